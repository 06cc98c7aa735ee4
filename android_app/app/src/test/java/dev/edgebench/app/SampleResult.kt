package dev.edgebench.app

import java.io.File

/**
 * Writes sample results with the app's own writer ([RawSamples], [Json], [BenchmarkLoop]) on a
 * plain JVM, so edgebench's tests can validate the real output against raw_samples.schema.json
 * without a phone. The "inference" is a small float workload and host says so: these are
 * format samples, not device measurements.
 *
 * Usage: SampleResultKt OK_JSON ERROR_JSON
 */
fun main(args: Array<String>) {
    require(args.size == 2) { "usage: SampleResultKt OK_JSON ERROR_JSON" }
    val config = BenchmarkConfig("/data/local/tmp/edgebench/sample.tflite", 3, 0f, 10, 0f, 5f, 2, "cpu", "sample.json")
    val data = FloatArray(64 * 64) { it * 0.001f }
    var sink = 0f
    val timings = BenchmarkLoop(config).measure {
        for (i in data.indices) sink += data[i] * data[(i * 7) % data.size]
    }
    val host = linkedMapOf<String, Any?>(
        "kind" to "jvm-sample",
        "note" to "written by SampleResult.kt on a JVM: format sample, not a device measurement",
        "cores" to Runtime.getRuntime().availableProcessors(),
        "checksum" to sink
    )
    val state = linkedMapOf<String, Any?>("uptime_ms" to System.nanoTime() / 1000000L, "thermal_status" to null)
    val ok = RawSamples(
        status = RawSamples.STATUS_OK,
        error = null,
        runtimeVersion = null,
        modelPath = config.model,
        threads = config.threads,
        delegate = config.delegate,
        inputShapes = listOf(listOf(1, 3, 224, 224)),
        loadMs = 1.5,
        firstInferenceMs = timings.firstInferenceMs,
        warmupMs = timings.warmupMs,
        iterationsMs = timings.iterationsMs,
        memory = MemoryReading(null, null, null),
        deviceBefore = state,
        deviceAfter = state,
        host = host
    )
    File(args[0]).writeText(ok.toJson())
    val rejected = ModelPaths.resolve("/sdcard/model.tflite", File(System.getProperty("java.io.tmpdir")))
    val error = when (rejected) {
        is ModelPaths.Resolution.Rejected -> ErrorInfo(rejected.stage, rejected.message, rejected.hint)
        is ModelPaths.Resolution.Ok -> throw IllegalStateException("/sdcard must be rejected")
    }
    File(args[1]).writeText(RawSamples.failure(error, config, "/sdcard/model.tflite", null, state, host).toJson())
}
