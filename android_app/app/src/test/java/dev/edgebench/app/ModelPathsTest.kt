package dev.edgebench.app

import java.io.File
import java.nio.file.Files
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Rule
import org.junit.Test
import org.junit.rules.TemporaryFolder

class ModelPathsTest {
    @get:Rule
    val tmp = TemporaryFolder()

    private fun setup(): Triple<File, File, File> {
        val allowed = tmp.newFolder("pushed")
        val files = tmp.newFolder("files")
        val outside = tmp.newFolder("outside")
        File(allowed, "m.tflite").writeBytes(byteArrayOf(1, 2, 3))
        File(files, "own.tflite").writeBytes(byteArrayOf(1))
        File(outside, "secret.tflite").writeBytes(byteArrayOf(1))
        return Triple(allowed, files, outside)
    }

    @Test
    fun acceptsFilesInTheAllowedDirAndTheFilesDir() {
        val (allowed, files, _) = setup()
        val roots = listOf(allowed.path + "/")
        val pushed = ModelPaths.resolve(File(allowed, "m.tflite").path, files, roots)
        assertEquals(File(allowed, "m.tflite").canonicalFile, (pushed as ModelPaths.Resolution.Ok).file)
        val own = ModelPaths.resolve("own.tflite", files, roots)
        assertTrue(own is ModelPaths.Resolution.Ok)
    }

    @Test
    fun rejectsDotDotAndAbsolutePathsOutside() {
        val (allowed, files, outside) = setup()
        val roots = listOf(allowed.path + "/")
        for (path in listOf(allowed.path + "/../outside/secret.tflite", File(outside, "secret.tflite").path,
                "../outside/secret.tflite", "/etc/hosts")) {
            val r = ModelPaths.resolve(path, files, roots)
            assertTrue(path, r is ModelPaths.Resolution.Rejected)
            assertEquals(Contract.STAGE_CONFIG, (r as ModelPaths.Resolution.Rejected).stage)
        }
    }

    @Test
    fun rejectsASymlinkThatLeadsOutside() {
        val (allowed, files, outside) = setup()
        val link = File(allowed, "link.tflite").toPath()
        Files.createSymbolicLink(link, File(outside, "secret.tflite").toPath())
        val r = ModelPaths.resolve(link.toString(), files, listOf(allowed.path))
        assertTrue(r is ModelPaths.Resolution.Rejected)
    }

    @Test
    fun missingFileIsALoadError() {
        val (allowed, files, _) = setup()
        val r = ModelPaths.resolve(File(allowed, "nope.tflite").path, files, listOf(allowed.path))
        assertEquals(Contract.STAGE_LOAD, (r as ModelPaths.Resolution.Rejected).stage)
        val root = ModelPaths.resolve(allowed.path, files, listOf(allowed.path))
        assertTrue("the dir itself is not a model", root is ModelPaths.Resolution.Rejected)
    }
}
