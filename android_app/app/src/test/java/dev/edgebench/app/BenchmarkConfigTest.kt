package dev.edgebench.app

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test

class BenchmarkConfigTest {
    private fun parse(vararg extras: Pair<String, Any>): BenchmarkConfig.Parsed {
        val map = mapOf(*extras)
        return BenchmarkConfig.parse { map[it] }
    }

    @Test
    fun defaultsComeFromTheContract() {
        val parsed = parse(Contract.EXTRA_MODEL to "/data/local/tmp/edgebench/m.tflite")
        val config = (parsed as BenchmarkConfig.Parsed.Ok).config
        assertEquals(Contract.DEFAULT_WARMUP, config.warmup)
        assertEquals(Contract.DEFAULT_RUNS, config.runs)
        assertEquals(Contract.DEFAULT_THREADS, config.threads)
        assertEquals(Contract.DEFAULT_DELEGATE, config.delegate)
        assertEquals(Contract.DEFAULT_OUT, config.out)
        assertEquals(Contract.DEFAULT_MAX_SECONDS, config.maxSeconds, 0f)
    }

    @Test
    fun everyExtraIsRead() {
        val parsed = parse(
            "model" to "m.tflite", "warmup" to 3, "warmup_seconds" to 0.5f, "runs" to 7,
            "min_seconds" to 1.5f, "max_seconds" to 9f, "threads" to 2, "delegate" to "gpu", "out" to "r1.json"
        )
        val expected = BenchmarkConfig("m.tflite", 3, 0.5f, 7, 1.5f, 9f, 2, "gpu", "r1.json")
        assertEquals(expected, (parsed as BenchmarkConfig.Parsed.Ok).config)
    }

    @Test
    fun wrongTypesAreErrorsNotDefaults() {
        val parsed = parse("model" to "m.tflite", "runs" to "5", "delegate" to "npu")
        val invalid = parsed as BenchmarkConfig.Parsed.Invalid
        assertEquals(2, invalid.problems.size)
        assertTrue(invalid.message, invalid.message.contains("runs must be an int (--ei)"))
        assertTrue(invalid.message, invalid.message.contains("delegate 'npu'"))
        assertEquals("errors still go to the requested out", Contract.DEFAULT_OUT, invalid.out)
    }

    @Test
    fun missingModelAndBadOutAreReported() {
        val invalid = parse("out" to "../escape.json") as BenchmarkConfig.Parsed.Invalid
        assertTrue(invalid.message.contains("model extra is required"))
        assertTrue(invalid.message.contains("out '../escape.json'"))
        assertEquals(Contract.DEFAULT_OUT, invalid.out)
    }

    @Test
    fun valuesBelowTheMinimumAreRejected() {
        val invalid = parse("model" to "m.tflite", "runs" to 0, "threads" to 0, "out" to "x.json")
            as BenchmarkConfig.Parsed.Invalid
        assertEquals(2, invalid.problems.size)
        assertEquals("x.json", invalid.out)
    }
}
