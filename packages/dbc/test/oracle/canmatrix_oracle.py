"""Decodes and encodes CAN frames with canmatrix (Debian's python3-canmatrix), an independent
DBC implementation, for @canbridge/dbc's differential test and benchmark.

usage: canmatrix_oracle.py DBC JOB.json OUT.json
JOB: {"decode": [{"id": int, "extended": bool, "data": hex}],
      "encode": [{"id": int, "extended": bool, "raw": {signal: int | float | "big int"}}],
      "benchRounds": int (optional: decode all frames this many times and time it)}
OUT: {"decode": [{signal: [raw, physical, name]}]  (raw: int as a decimal string, float as
      repr; physical: canmatrix's Decimal as a string; name: the VAL_ name or null),
      "encode": [hex], "decodeFps": float | null}
"""
import json
import logging
import math
import sys
import time

logging.disable(logging.CRITICAL)  # canmatrix logs "ldf is not supported" and the like

import canmatrix  # noqa: E402
import canmatrix.formats  # noqa: E402


def raw_text(value):
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    return str(int(value))


def named(decoded_signal):
    """The VAL_ name canmatrix gives the value, or None."""
    value = decoded_signal.named_value
    return value if isinstance(value, str) else None


def main():
    dbc_path, job_path, out_path = sys.argv[1:4]
    db = canmatrix.formats.loadp_flat(dbc_path, import_type="dbc")
    with open(job_path) as f:
        job = json.load(f)

    def frame_of(item):
        frame = db.frame_by_id(canmatrix.ArbitrationId(id=item["id"], extended=item["extended"]))
        if frame is None:
            raise SystemExit("canmatrix has no frame 0x%x" % item["id"])
        return frame

    decoded = []
    inputs = []
    for item in job.get("decode", []):
        frame = frame_of(item)
        data = bytes.fromhex(item["data"])
        inputs.append((frame, data))
        signals = frame.decode(data)
        decoded.append(
            {
                name: [raw_text(s.raw_value), str(s.phys_value), named(s)]
                for name, s in signals.items()
            }
        )

    encoded = []
    for item in job.get("encode", []):
        frame = frame_of(item)
        values = {k: (int(v) if isinstance(v, str) else v) for k, v in item["raw"].items()}
        encoded.append(bytes(frame.signals_to_bytes(values)).hex())

    fps = None
    rounds = job.get("benchRounds", 0)
    if rounds:
        best = 0.0
        for _ in range(rounds):
            start = time.perf_counter()
            for frame, data in inputs:
                for s in frame.decode(data).values():
                    s.phys_value  # the physical value, as our decode gives it
            elapsed = time.perf_counter() - start
            best = max(best, len(inputs) / elapsed)
        fps = best

    with open(out_path, "w") as f:
        json.dump({"decode": decoded, "encode": encoded, "decodeFps": fps}, f)


main()
