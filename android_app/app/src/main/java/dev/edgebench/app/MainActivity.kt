package dev.edgebench.app

import android.graphics.Bitmap
import android.graphics.BitmapFactory
import android.net.Uri
import android.os.Bundle
import android.widget.ArrayAdapter
import android.widget.Button
import android.widget.ImageView
import android.widget.Spinner
import android.widget.Switch
import android.widget.TextView
import androidx.activity.ComponentActivity
import androidx.activity.result.PickVisualMediaRequest
import androidx.activity.result.contract.ActivityResultContracts
import java.io.IOException
import java.util.Locale
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors
import org.json.JSONException

/**
 * The demo screen: pick a photo (Photo Picker) or use the bundled sample, classify it with the
 * bundled edgebench-exported model, and show the top-5 labels with the median latency of a few
 * runs. Threads and CPU / GPU can be switched; the interpreter is rebuilt when they change.
 */
class MainActivity : ComponentActivity() {
    // The interpreter is only ever touched on this one thread.
    private val worker: ExecutorService = Executors.newSingleThreadExecutor()
    private var helper: ImageClassifierHelper? = null
    private var bundled: BundledModel? = null
    private var bitmap: Bitmap? = null

    private lateinit var imageView: ImageView
    private lateinit var resultView: TextView
    private lateinit var modelView: TextView
    private lateinit var threadsSpinner: Spinner
    private lateinit var gpuSwitch: Switch

    private val pickImage = registerForActivityResult(ActivityResultContracts.PickVisualMedia()) { uri ->
        if (uri != null) loadPicked(uri)
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        imageView = findViewById(R.id.image)
        resultView = findViewById(R.id.results)
        modelView = findViewById(R.id.model_info)
        threadsSpinner = findViewById(R.id.threads)
        gpuSwitch = findViewById(R.id.gpu)

        threadsSpinner.adapter = ArrayAdapter(this, android.R.layout.simple_spinner_dropdown_item, THREAD_CHOICES)
        threadsSpinner.setSelection(THREAD_CHOICES.indexOf(Contract.DEFAULT_THREADS).coerceAtLeast(0))
        findViewById<Button>(R.id.pick).setOnClickListener {
            pickImage.launch(PickVisualMediaRequest(ActivityResultContracts.PickVisualMedia.ImageOnly))
        }
        findViewById<Button>(R.id.sample).setOnClickListener { loadSample() }
        findViewById<Button>(R.id.classify).setOnClickListener { classify() }

        bundled = try {
            BundledModel.load(this)
        } catch (e: IOException) {
            null
        } catch (e: JSONException) {
            null
        }
        val model = bundled
        modelView.text = if (model == null) {
            getString(R.string.no_model)
        } else {
            getString(R.string.model_info, model.description, model.weights)
        }
        if (model != null) loadSample()
    }

    override fun onDestroy() {
        super.onDestroy()
        worker.execute {
            helper?.close()
            helper = null
        }
        worker.shutdown()
    }

    private fun loadSample() {
        val decoded = try {
            assets.open(BundledModel.SAMPLE_ASSET).use { BitmapFactory.decodeStream(it) }
        } catch (e: IOException) {
            resultView.text = getString(R.string.no_sample)
            return
        }
        show(decoded)
    }

    private fun loadPicked(uri: Uri) {
        worker.execute {
            val decoded = try {
                decodeSampled(uri, PREVIEW_SIZE)
            } catch (e: IOException) {
                runOnUiThread { resultView.text = getString(R.string.cannot_open, e.message ?: uri.toString()) }
                return@execute
            }
            runOnUiThread { show(decoded) }
        }
    }

    private fun show(decoded: Bitmap?) {
        if (decoded == null) {
            resultView.text = getString(R.string.cannot_decode)
            return
        }
        bitmap = decoded
        imageView.setImageBitmap(decoded)
        classify()
    }

    private fun classify() {
        val model = bundled ?: run {
            resultView.text = getString(R.string.no_model)
            return
        }
        val image = bitmap ?: return
        val options = ImageClassifierHelper.Options(
            threads = THREAD_CHOICES[threadsSpinner.selectedItemPosition],
            delegate = if (gpuSwitch.isChecked) ImageClassifierHelper.Delegate.GPU else ImageClassifierHelper.Delegate.CPU
        )
        resultView.text = getString(R.string.running)
        worker.execute {
            val text = try {
                val classifier = helperFor(model, options)
                val result = classifier.classify(image, model.labels, model.mean, model.std, runs = DEMO_RUNS)
                format(result, options)
            } catch (e: ImageClassifierHelper.UnsupportedDelegateException) {
                getString(R.string.gpu_unsupported, e.message)
            } catch (e: IOException) {
                getString(R.string.failed, e.message)
            } catch (e: RuntimeException) {
                getString(R.string.failed, "${e.javaClass.simpleName}: ${e.message}")
            }
            runOnUiThread { resultView.text = text }
        }
    }

    /** The interpreter for [options], rebuilt only when threads or delegate changed (worker thread). */
    private fun helperFor(model: BundledModel, options: ImageClassifierHelper.Options): ImageClassifierHelper {
        val current = helper
        if (current != null && current.options == options) return current
        current?.close()
        helper = null
        val created = ImageClassifierHelper.create(ImageClassifierHelper.mapAsset(this, model.modelAsset), options)
        helper = created
        return created
    }

    private fun format(result: ImageClassifierHelper.Classification, options: ImageClassifierHelper.Options): String {
        val lines = result.categories.mapIndexed { rank, category ->
            String.format(Locale.US, "%d. %s  %.1f%%", rank + 1, category.label, category.score * 100f)
        }
        val latency = String.format(
            Locale.US, "median %.2f ms over %d runs · %s · %d threads",
            result.medianMs, result.runsMs.size, options.delegate.id.uppercase(Locale.US), options.threads
        )
        return (lines + "" + latency).joinToString("\n")
    }

    /** Decodes [uri] at roughly [target] px on the short side, so a 50 MP photo does not exhaust memory. */
    private fun decodeSampled(uri: Uri, target: Int): Bitmap? {
        val bounds = BitmapFactory.Options().apply { inJustDecodeBounds = true }
        val stream = contentResolver.openInputStream(uri) ?: throw IOException("cannot open $uri")
        stream.use { BitmapFactory.decodeStream(it, null, bounds) }
        var sample = 1
        while (minOf(bounds.outWidth, bounds.outHeight) / (sample * 2) >= target) sample *= 2
        val options = BitmapFactory.Options().apply { inSampleSize = sample }
        return contentResolver.openInputStream(uri)?.use { BitmapFactory.decodeStream(it, null, options) }
    }

    private companion object {
        val THREAD_CHOICES = listOf(1, 2, 4, 8)
        const val DEMO_RUNS = 10
        const val PREVIEW_SIZE = 512
    }
}
