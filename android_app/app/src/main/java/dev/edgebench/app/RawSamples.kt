package dev.edgebench.app

/** error of a RawSamples result: which stage failed, why, and what to do about it. */
data class ErrorInfo(val stage: String, val message: String, val hint: String?) {
    /** The `error` object of edgebench/runner/raw_samples.schema.json. */
    fun toMap(): Map<String, Any?> = linkedMapOf(
        "stage" to stage,
        "message" to message,
        "hint" to hint
    )
}

/** memory of a RawSamples result, in bytes. */
data class MemoryReading(
    val pssBytes: Long?,
    val peakRssBytes: Long?,
    val loadRssDeltaBytes: Long?
) {
    /** The `memory` object of edgebench/runner/raw_samples.schema.json. */
    fun toMap(): Map<String, Any?> = linkedMapOf(
        "pss_bytes" to pssBytes,
        "peak_rss_bytes" to peakRssBytes,
        "load_rss_delta_bytes" to loadRssDeltaBytes,
        "footprint_bytes" to null,
        "definition" to DEFINITION
    )

    companion object {
        const val DEFINITION = "pss_bytes: Debug.MemoryInfo total PSS of the app process after the timed runs; " +
            "peak_rss_bytes: VmHWM of the process; load_rss_delta_bytes: VmRSS after minus before loading the model"
    }
}

/**
 * One result of the benchmark mode, written as JSON in the schema every edgebench runner emits
 * (edgebench/runner/raw_samples.schema.json).
 */
data class RawSamples(
    val status: String,
    val error: ErrorInfo?,
    val runtimeVersion: String?,
    val modelPath: String?,
    val threads: Int?,
    val delegate: String?,
    val inputShapes: List<List<Int>>?,
    val loadMs: Double?,
    val firstInferenceMs: Double?,
    val warmupMs: List<Double>,
    val iterationsMs: List<Double>,
    val memory: MemoryReading?,
    val deviceBefore: Map<String, Any?>?,
    val deviceAfter: Map<String, Any?>?,
    val host: Map<String, Any?>?
) {
    /** The top-level object of edgebench/runner/raw_samples.schema.json. */
    fun toMap(): Map<String, Any?> = linkedMapOf(
        "schema_version" to Contract.SCHEMA_VERSION,
        "runner" to Contract.RUNNER,
        "status" to status,
        "error" to error?.toMap(),
        "runtime" to Contract.RUNTIME,
        "runtime_version" to runtimeVersion,
        "format" to FORMAT,
        "model_path" to modelPath,
        "threads" to threads,
        "delegate" to delegate,
        "input_shapes" to inputShapes,
        "load_ms" to loadMs,
        "first_inference_ms" to firstInferenceMs,
        "warmup_ms" to warmupMs,
        "iterations_ms" to iterationsMs,
        // Interpreter.run copies the input into the input tensor and the output out of it.
        "include_io" to true,
        "memory" to memory?.toMap(),
        "device_state" to linkedMapOf("before" to deviceBefore, "after" to deviceAfter),
        "host" to host
    )

    /** The result as one JSON document. */
    fun toJson(): String = Json.encode(toMap())

    companion object {
        const val FORMAT = "tflite"
        const val STATUS_OK = "ok"
        const val STATUS_ERROR = "error"

        /** An error result: what was known when [error] happened, nothing measured. */
        fun failure(
            error: ErrorInfo,
            config: BenchmarkConfig?,
            modelPath: String?,
            runtimeVersion: String?,
            deviceBefore: Map<String, Any?>?,
            host: Map<String, Any?>?
        ): RawSamples = RawSamples(
            status = STATUS_ERROR,
            error = error,
            runtimeVersion = runtimeVersion,
            modelPath = modelPath,
            threads = config?.threads,
            delegate = config?.delegate,
            inputShapes = null,
            loadMs = null,
            firstInferenceMs = null,
            warmupMs = emptyList(),
            iterationsMs = emptyList(),
            memory = null,
            deviceBefore = deviceBefore,
            deviceAfter = null,
            host = host
        )
    }
}
