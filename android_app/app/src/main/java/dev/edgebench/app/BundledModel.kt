package dev.edgebench.app

import android.content.Context
import org.json.JSONArray
import org.json.JSONObject

/**
 * The demo's classifier as android_app/scripts/bundle_model.sh put it into the assets:
 * `model.json` names the .tflite and labels files and carries the preprocessing of the model's
 * edgebench manifest (mean / std), and whether its weights are real or random-init.
 */
data class BundledModel(
    val modelAsset: String,
    val labels: List<String>,
    val mean: FloatArray,
    val std: FloatArray,
    val weights: String,
    val description: String
) {
    companion object {
        const val INFO_ASSET = "model.json"
        const val SAMPLE_ASSET = "sample.jpg"

        /** Reads assets/model.json and its labels file; throws IOException when they were never bundled. */
        fun load(context: Context): BundledModel {
            val info = JSONObject(context.assets.open(INFO_ASSET).bufferedReader().use { it.readText() })
            val labels = context.assets.open(info.getString("labels")).bufferedReader().use { reader ->
                reader.readLines().filter { it.isNotBlank() }
            }
            return BundledModel(
                modelAsset = info.getString("model"),
                labels = labels,
                mean = floats(info.getJSONArray("mean")),
                std = floats(info.getJSONArray("std")),
                weights = info.getString("weights"),
                description = info.getString("description")
            )
        }

        private fun floats(array: JSONArray): FloatArray = FloatArray(array.length()) { array.getDouble(it).toFloat() }
    }
}
