package dev.edgebench.app

import android.content.Context
import android.graphics.Bitmap
import java.io.Closeable
import java.io.File
import java.io.FileInputStream
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.MappedByteBuffer
import java.nio.channels.FileChannel
import java.util.Random
import kotlin.math.exp
import kotlin.math.roundToInt
import org.tensorflow.lite.DataType
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.Tensor
import org.tensorflow.lite.TensorFlowLite
import org.tensorflow.lite.gpu.CompatibilityList
import org.tensorflow.lite.gpu.GpuDelegate

/**
 * Wraps a LiteRT [Interpreter] (CPU with XNNPACK and N threads, or the GPU delegate) the way the
 * official LiteRT example apps do, for both the demo screen and the benchmark mode.
 *
 * Inputs and outputs are direct native-order buffers allocated once, so a timed [runInference] measures
 * the interpreter, not Java allocation.
 */
class ImageClassifierHelper private constructor(
    private val interpreter: Interpreter,
    private val gpuDelegate: GpuDelegate?,
    /** The options this interpreter was built with. */
    val options: Options
) : Closeable {

    /** Threads and delegate for a new interpreter. */
    data class Options(val threads: Int = Contract.DEFAULT_THREADS, val delegate: Delegate = Delegate.CPU)

    /** The delegates the app offers; [id] is the value of the `delegate` extra. */
    enum class Delegate(val id: String) {
        CPU("cpu"),
        GPU("gpu");

        companion object {
            /** The delegate for a contract id (`cpu` | `gpu`). */
            fun fromId(id: String): Delegate = values().firstOrNull { it.id == id }
                ?: throw IllegalArgumentException("unknown delegate $id")
        }
    }

    /** The requested delegate cannot run on this device. */
    class UnsupportedDelegateException(message: String) : Exception(message)

    /** One class of a classification: index, label and softmax probability. */
    data class Category(val index: Int, val label: String, val score: Float)

    /** Top-k classes plus the latency of the runs that produced them. */
    data class Classification(val categories: List<Category>, val medianMs: Double, val runsMs: List<Double>)

    private val inputs: Array<Any> = Array(interpreter.inputTensorCount) { i ->
        allocate(interpreter.getInputTensor(i).numBytes())
    }
    private val outputs: MutableMap<Int, Any> = HashMap<Int, Any>().also { map ->
        for (i in 0 until interpreter.outputTensorCount) map[i] = allocate(interpreter.getOutputTensor(i).numBytes())
    }

    /** Shape of every input tensor (for the result's `input_shapes`). */
    val inputShapes: List<List<Int>>
        get() = (0 until interpreter.inputTensorCount).map { interpreter.getInputTensor(it).shape().toList() }

    /** Fills every input with deterministic pseudo-random values of its dtype (benchmark input). */
    fun fillRandom(seed: Long) {
        val random = Random(seed)
        for (i in inputs.indices) {
            val buffer = inputs[i] as ByteBuffer
            buffer.rewind()
            when (interpreter.getInputTensor(i).dataType()) {
                DataType.FLOAT32 -> {
                    while (buffer.remaining() >= 4) buffer.putFloat(random.nextGaussian().toFloat())
                }
                DataType.INT32 -> {
                    while (buffer.remaining() >= 4) buffer.putInt(random.nextInt(256))
                }
                else -> {
                    val bytes = ByteArray(buffer.remaining())
                    random.nextBytes(bytes)
                    buffer.put(bytes)
                }
            }
            buffer.rewind()
        }
    }

    /**
     * Writes [bitmap] into the first input: short side resized to 256/224 of the input size, centre
     * crop (torchvision's eval recipe, as edgebench's InputSpec.preprocess), then (x/255 - mean) / std,
     * in the tensor's layout (NCHW or NHWC) and dtype (float32, or int8/uint8 quantised).
     */
    fun fillImage(bitmap: Bitmap, mean: FloatArray, std: FloatArray) {
        val tensor = interpreter.getInputTensor(0)
        val shape = tensor.shape()
        require(shape.size == 4) { "the first input is not an image tensor: shape ${shape.toList()}" }
        val nchw = shape[1] == 3
        val height = if (nchw) shape[2] else shape[1]
        val width = if (nchw) shape[3] else shape[2]
        val pixels = centreCrop(bitmap, width, height)

        val buffer = inputs[0] as ByteBuffer
        buffer.rewind()
        val plane = width * height
        val values = FloatArray(plane * 3)
        for (p in 0 until plane) {
            val argb = pixels[p]
            val rgb = intArrayOf((argb shr 16) and 0xFF, (argb shr 8) and 0xFF, argb and 0xFF)
            for (c in 0 until 3) {
                val v = (rgb[c] / 255f - mean[c]) / std[c]
                values[if (nchw) c * plane + p else p * 3 + c] = v
            }
        }
        writeValues(buffer, values, tensor)
        buffer.rewind()
    }

    /** Runs the interpreter once on the current inputs. */
    fun runInference() {
        for (input in inputs) (input as ByteBuffer).rewind()
        for (output in outputs.values) (output as ByteBuffer).rewind()
        interpreter.runForMultipleInputsOutputs(inputs, outputs)
    }

    /** The first output as floats (dequantised for int8/uint8 outputs). */
    fun outputScores(): FloatArray {
        val tensor = interpreter.getOutputTensor(0)
        val buffer = (outputs[0] as ByteBuffer).duplicate().order(ByteOrder.nativeOrder())
        buffer.rewind()
        val count = tensor.numElements()
        val params = tensor.quantizationParams()
        return FloatArray(count) { i ->
            when (tensor.dataType()) {
                DataType.FLOAT32 -> buffer.getFloat(i * 4)
                DataType.UINT8 -> ((buffer.get(i).toInt() and 0xFF) - params.zeroPoint) * params.scale
                DataType.INT8 -> (buffer.get(i).toInt() - params.zeroPoint) * params.scale
                else -> throw IllegalStateException("unsupported output dtype ${tensor.dataType()}")
            }
        }
    }

    /**
     * Classifies [bitmap]: preprocesses once, runs the model [runs] times and returns the [topK]
     * classes (softmax of the logits) with the median latency of those runs.
     */
    fun classify(bitmap: Bitmap, labels: List<String>, mean: FloatArray, std: FloatArray, runs: Int = 5, topK: Int = 5): Classification {
        fillImage(bitmap, mean, std)
        val runsMs = ArrayList<Double>()
        repeat(maxOf(1, runs)) {
            val start = System.nanoTime()
            runInference()
            runsMs.add((System.nanoTime() - start) / 1e6)
        }
        val probabilities = softmax(outputScores())
        val top = probabilities.indices.sortedByDescending { probabilities[it] }.take(topK).map { index ->
            Category(index, labels.getOrElse(index) { "class $index" }, probabilities[index])
        }
        return Classification(top, median(runsMs), runsMs)
    }

    override fun close() {
        interpreter.close()
        gpuDelegate?.close()
    }

    private fun writeValues(buffer: ByteBuffer, values: FloatArray, tensor: Tensor) {
        val params = tensor.quantizationParams()
        when (tensor.dataType()) {
            DataType.FLOAT32 -> {
                for (v in values) buffer.putFloat(v)
            }
            DataType.UINT8 -> {
                for (v in values) buffer.put(quantise(v, params.scale, params.zeroPoint, 0, 255))
            }
            DataType.INT8 -> {
                for (v in values) buffer.put(quantise(v, params.scale, params.zeroPoint, -128, 127))
            }
            else -> throw IllegalStateException("unsupported input dtype ${tensor.dataType()}")
        }
    }

    companion object {
        /** Version of the LiteRT native runtime linked into the app. */
        fun runtimeVersion(): String = TensorFlowLite.runtimeVersion()

        /**
         * Builds an interpreter for [model] with [options]. Throws [UnsupportedDelegateException]
         * when the GPU delegate is asked for on a device that cannot run it.
         */
        fun create(model: ByteBuffer, options: Options): ImageClassifierHelper {
            val interpreterOptions = Interpreter.Options().setNumThreads(options.threads)
            var gpu: GpuDelegate? = null
            when (options.delegate) {
                Delegate.CPU -> interpreterOptions.setUseXNNPACK(true)
                Delegate.GPU -> {
                    val delegate = CompatibilityList().use { compatibility ->
                        if (!compatibility.isDelegateSupportedOnThisDevice) {
                            throw UnsupportedDelegateException("the LiteRT GPU delegate does not support this device's GPU")
                        }
                        GpuDelegate(compatibility.bestOptionsForThisDevice)
                    }
                    gpu = delegate
                    interpreterOptions.addDelegate(delegate)
                }
            }
            try {
                return ImageClassifierHelper(Interpreter(model, interpreterOptions), gpu, options)
            } catch (e: RuntimeException) {
                gpu?.close()
                throw e
            }
        }

        /** Memory-maps a model file read-only (no copy into the Java heap). */
        fun mapFile(file: File): MappedByteBuffer = FileInputStream(file).use { stream ->
            stream.channel.map(FileChannel.MapMode.READ_ONLY, 0, stream.channel.size())
        }

        /** Memory-maps an asset; the build stores .tflite assets uncompressed so this works. */
        fun mapAsset(context: Context, name: String): MappedByteBuffer {
            context.assets.openFd(name).use { fd ->
                FileInputStream(fd.fileDescriptor).use { stream ->
                    return stream.channel.map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength)
                }
            }
        }

        private fun allocate(bytes: Int): ByteBuffer = ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder())

        private fun quantise(v: Float, scale: Float, zeroPoint: Int, lo: Int, hi: Int): Byte =
            ((v / scale).roundToInt() + zeroPoint).coerceIn(lo, hi).toByte()

        private fun softmax(logits: FloatArray): FloatArray {
            val max = logits.maxOrNull() ?: return logits
            val exps = FloatArray(logits.size) { exp((logits[it] - max).toDouble()).toFloat() }
            val sum = exps.sum()
            return FloatArray(exps.size) { exps[it] / sum }
        }

        /** Short side to 256/224 of the target, then the centre [width] x [height] pixels (ARGB). */
        private fun centreCrop(bitmap: Bitmap, width: Int, height: Int): IntArray {
            val scale = (height * 256f / 224f) / minOf(bitmap.width, bitmap.height)
            val scaledW = maxOf(width, (bitmap.width * scale).roundToInt())
            val scaledH = maxOf(height, (bitmap.height * scale).roundToInt())
            val scaled = Bitmap.createScaledBitmap(bitmap, scaledW, scaledH, true)
            val pixels = IntArray(width * height)
            scaled.getPixels(pixels, 0, width, (scaledW - width) / 2, (scaledH - height) / 2, width, height)
            if (scaled !== bitmap) scaled.recycle()
            return pixels
        }
    }
}
