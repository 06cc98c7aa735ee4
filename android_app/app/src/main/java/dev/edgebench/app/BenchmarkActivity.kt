package dev.edgebench.app

import android.app.Activity
import android.os.Bundle
import android.os.Process
import android.util.Log
import android.view.WindowManager
import android.widget.TextView
import java.io.File
import java.io.IOException

/**
 * The benchmark mode edgebench drives over adb:
 *
 *     am start -W -S -n dev.edgebench.app/.BenchmarkActivity --es model /data/local/tmp/edgebench/m.tflite \
 *         --ei warmup 10 --ei runs 50 --ei threads 4 --es delegate cpu --es out r.json
 *
 * It stays in the foreground (the scheduling a real app gets) while a worker thread loads the model
 * and runs the protocol of [BenchmarkLoop], writes a RawSamples JSON into its files dir
 * (`run-as dev.edgebench.app cat files/r.json`) and finishes. Every failure is an error result in
 * the same file, never a silent exit.
 */
class BenchmarkActivity : Activity() {
    private lateinit var statusView: TextView

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        window.addFlags(WindowManager.LayoutParams.FLAG_KEEP_SCREEN_ON)
        setContentView(R.layout.activity_benchmark)
        statusView = findViewById(R.id.benchmark_status)
        if (savedInstanceState != null) return // recreated by the system: the first instance's run owns the result

        val extras = intent.extras
        @Suppress("DEPRECATION") // Bundle.get is the one accessor that reveals an extra's type
        val parsed = BenchmarkConfig.parse { name -> extras?.get(name) }
        val out = when (parsed) {
            is BenchmarkConfig.Parsed.Ok -> parsed.config.out
            is BenchmarkConfig.Parsed.Invalid -> parsed.out
        }
        // A stale result from an earlier run must never be read back as this run's.
        File(filesDir, out).delete()
        statusView.text = getString(R.string.benchmark_running, extras?.getString(Contract.EXTRA_MODEL) ?: "?")
        Thread({ runAndFinish(parsed, out) }, "edgebench-benchmark").start()
    }

    private fun runAndFinish(parsed: BenchmarkConfig.Parsed, out: String) {
        val result = when (parsed) {
            is BenchmarkConfig.Parsed.Invalid -> RawSamples.failure(
                ErrorInfo(Contract.STAGE_CONFIG, parsed.message, "see edgebench/targets/android_app_contract.json for the extras"),
                null, null, null, DeviceInfo.state(this), DeviceInfo.host(this, null)
            )
            is BenchmarkConfig.Parsed.Ok -> measure(parsed.config)
        }
        try {
            write(out, result)
            Log.i(TAG, "wrote files/$out: status=${result.status} iterations=${result.iterationsMs.size}")
        } catch (e: IOException) {
            // Nothing can carry this one (disk full?): the harness times out waiting for the file.
            Log.e(TAG, "cannot write files/$out", e)
        }
        runOnUiThread {
            statusView.text = getString(R.string.benchmark_done, out, result.status)
            finish()
        }
    }

    private fun measure(config: BenchmarkConfig): RawSamples {
        val before = DeviceInfo.state(this)
        val resolution = ModelPaths.resolve(config.model, filesDir)
        if (resolution is ModelPaths.Resolution.Rejected) {
            return RawSamples.failure(
                ErrorInfo(resolution.stage, resolution.message, resolution.hint),
                config, config.model, null, before, DeviceInfo.host(this, null)
            )
        }
        val modelFile = (resolution as ModelPaths.Resolution.Ok).file

        val rssBefore = DeviceInfo.procStatusBytes("VmRSS")
        val loadStart = System.nanoTime()
        val options = ImageClassifierHelper.Options(config.threads, ImageClassifierHelper.Delegate.fromId(config.delegate))
        val (runtimeVersion, helper) = try {
            Pair(
                ImageClassifierHelper.runtimeVersion(),
                ImageClassifierHelper.create(ImageClassifierHelper.mapFile(modelFile), options)
            )
        } catch (e: ImageClassifierHelper.UnsupportedDelegateException) {
            return failure(Contract.STAGE_UNSUPPORTED, e, "run with --es delegate cpu", config, modelFile, before)
        } catch (e: IOException) {
            return failure(Contract.STAGE_LOAD, e, "check the file is a readable .tflite", config, modelFile, before)
        } catch (e: RuntimeException) {
            // Interpreter throws IllegalArgumentException for a file that is not a valid model.
            return failure(Contract.STAGE_LOAD, e, "check the file is a valid .tflite model", config, modelFile, before)
        } catch (e: UnsatisfiedLinkError) {
            return failure(Contract.STAGE_LOAD, e, "the LiteRT native library is missing for this ABI", config, modelFile, before)
        }
        val loadMs = (System.nanoTime() - loadStart) / 1e6
        val rssAfterLoad = DeviceInfo.procStatusBytes("VmRSS")
        val host = DeviceInfo.host(this, runtimeVersion)
        host["benchmark_thread_priority"] = Process.getThreadPriority(Process.myTid())

        helper.use {
            it.fillRandom(INPUT_SEED)
            val timings = try {
                BenchmarkLoop(config).measure { it.runInference() }
            } catch (e: RuntimeException) {
                return failure(Contract.STAGE_RUN, e, null, config, modelFile, before, runtimeVersion)
            }
            val memory = MemoryReading(
                pssBytes = DeviceInfo.pssBytes(),
                peakRssBytes = DeviceInfo.procStatusBytes("VmHWM"),
                loadRssDeltaBytes = if (rssBefore != null && rssAfterLoad != null) rssAfterLoad - rssBefore else null
            )
            return RawSamples(
                status = RawSamples.STATUS_OK,
                error = null,
                runtimeVersion = runtimeVersion,
                modelPath = modelFile.path,
                threads = config.threads,
                delegate = config.delegate,
                inputShapes = it.inputShapes,
                loadMs = loadMs,
                firstInferenceMs = timings.firstInferenceMs,
                warmupMs = timings.warmupMs,
                iterationsMs = timings.iterationsMs,
                memory = memory,
                deviceBefore = before,
                deviceAfter = DeviceInfo.state(this),
                host = host
            )
        }
    }

    private fun failure(
        stage: String,
        e: Throwable,
        hint: String?,
        config: BenchmarkConfig,
        modelFile: File,
        before: Map<String, Any?>,
        runtimeVersion: String? = null
    ): RawSamples {
        Log.e(TAG, "benchmark failed at $stage", e)
        val message = "${e.javaClass.simpleName}: ${e.message ?: "no message"}"
        return RawSamples.failure(
            ErrorInfo(stage, message, hint), config, modelFile.path, runtimeVersion, before,
            DeviceInfo.host(this, runtimeVersion)
        )
    }

    /** Writes [result] to files/[out] through a temporary file, so a reader never sees half of it. */
    private fun write(out: String, result: RawSamples) {
        val tmp = File(filesDir, "$out.tmp")
        tmp.writeText(result.toJson())
        if (!tmp.renameTo(File(filesDir, out))) {
            throw IOException("cannot rename ${tmp.path} to $out")
        }
    }

    private companion object {
        const val TAG = "edgebench"
        const val INPUT_SEED = 0L
    }
}
