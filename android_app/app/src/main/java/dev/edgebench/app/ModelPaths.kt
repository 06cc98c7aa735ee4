package dev.edgebench.app

import java.io.File
import java.io.IOException

/**
 * Where the benchmark mode may read a model from: only [Contract.ALLOWED_MODEL_DIRS] (adb pushes
 * there) and the app's own files dir. The check runs on the canonical path, so `..` segments and
 * symlinks cannot lead anywhere else.
 */
object ModelPaths {
    /** The outcome of [resolve]: a readable model file, or why it was refused. */
    sealed class Resolution {
        /** The canonical, readable model file. */
        data class Ok(val file: File) : Resolution()

        /** Refused: [stage] is [Contract.STAGE_CONFIG] (outside the allowed dirs) or [Contract.STAGE_LOAD]. */
        data class Rejected(val stage: String, val message: String, val hint: String) : Resolution()
    }

    /**
     * Resolves the `model` extra: an absolute path, or a path relative to [filesDir]. Returns
     * [Resolution.Ok] only for an existing, readable regular file inside an allowed dir.
     */
    fun resolve(
        requested: String,
        filesDir: File,
        allowedDirs: List<String> = Contract.ALLOWED_MODEL_DIRS
    ): Resolution {
        if (requested.isBlank()) {
            return Resolution.Rejected(Contract.STAGE_CONFIG, "the model extra is empty", usage())
        }
        val candidate = if (File(requested).isAbsolute) File(requested) else File(filesDir, requested)
        val canonical: File
        val roots: List<String>
        try {
            canonical = candidate.canonicalFile
            roots = (allowedDirs.map { File(it).canonicalPath } + filesDir.canonicalPath)
        } catch (e: IOException) {
            return Resolution.Rejected(Contract.STAGE_CONFIG, "cannot resolve model path $requested: ${e.message}", usage())
        }
        val inside = roots.any { root -> canonical.path.startsWith(root.trimEnd('/') + "/") }
        if (!inside) {
            return Resolution.Rejected(
                Contract.STAGE_CONFIG,
                "model path $requested resolves to ${canonical.path}, outside the allowed dirs",
                usage()
            )
        }
        if (!canonical.isFile) {
            return Resolution.Rejected(
                Contract.STAGE_LOAD,
                "model file ${canonical.path} does not exist or is not a regular file",
                "adb push the model to ${Contract.ALLOWED_MODEL_DIRS.first()} first"
            )
        }
        if (!canonical.canRead()) {
            return Resolution.Rejected(
                Contract.STAGE_LOAD,
                "model file ${canonical.path} is not readable by the app",
                "adb shell chmod 755 the directory and chmod 644 the file"
            )
        }
        return Resolution.Ok(canonical)
    }

    private fun usage(): String =
        "pass --es ${Contract.EXTRA_MODEL} with a file under " +
            Contract.ALLOWED_MODEL_DIRS.joinToString(" or ") + " or a path relative to the app's files dir"
}
