# check in a script: exit 0 when torch takes the shapes, 1 when it refuses (stderr says why, in one line).
for state in 1,32,256 1,8,256; do
  why=$(rnnshape check --mode lstm --input-size 256 --hidden-size 256 --input-shape 8,8,256 \
        --h0-shape $state --c0-shape $state 2>&1 >/dev/null)
  echo "h_0 and c_0 $state: exit $?${why:+, $why}"
done
# A refusal as JSON: torch's message, and each likely cause with its fix.
rnnshape check --mode gru --input-size 256 --hidden-size 128 --input-shape 32,10,256 --h0-shape 1,32,128 \
  -f json 2>/dev/null | python -c '
import json, sys
report = json.load(sys.stdin)
print("accepted:", report["accepted"], "|", report["explanation"]["error"]["message"])
for cause in report["explanation"]["causes"]:
    print(cause["name"], "->", cause["fix"])'
