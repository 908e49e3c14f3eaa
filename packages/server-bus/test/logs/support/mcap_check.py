#!/usr/bin/env python3
"""An MCAP reader and checker written from the published specification
(https://mcap.dev/spec), independent of @mcap/core: the Python standard library, plus
python3-zstandard (Debian) for zstd chunks.

Usage: mcap_check.py FILE
Walks every record of FILE and checks: the magic at both ends; each record's opcode and length;
chunk CRCs and sizes; message indexes (each entry points at a message record of that channel and
time inside its chunk); the DataEnd CRC of the data section; the summary: schemas and channels
as in the data section, chunk indexes (offsets, lengths, sizes, message index offsets) against
the chunks found, statistics (counts and times) against what was counted, summary offsets (each
group holds only its opcode), the footer's offsets and the summary CRC.
Prints one JSON object: {"messages": [{"topic", "log_time", "publish_time", "sequence",
"schema", "data"}...], "statistics": {...}, "chunks": [{"compression", ...}], "summary": {...}}
with "data" the message's JSON decoded. Exits 1 with the first problem on stderr.
"""

import json
import struct
import sys
import zlib

MAGIC = b"\x89MCAP0\r\n"
OP = {
    0x01: "Header", 0x02: "Footer", 0x03: "Schema", 0x04: "Channel", 0x05: "Message",
    0x06: "Chunk", 0x07: "MessageIndex", 0x08: "ChunkIndex", 0x09: "Attachment",
    0x0A: "AttachmentIndex", 0x0B: "Statistics", 0x0C: "Metadata", 0x0D: "MetadataIndex",
    0x0E: "SummaryOffset", 0x0F: "DataEnd",
}


class Problem(Exception):
    pass


def need(condition, what):
    if not condition:
        raise Problem(what)


class Cursor:
    def __init__(self, data, at=0, end=None):
        self.data, self.at, self.end = data, at, len(data) if end is None else end

    def take(self, n):
        need(self.at + n <= self.end, f"field of {n} bytes runs past its record at {self.at}")
        out = self.data[self.at:self.at + n]
        self.at += n
        return out

    def u8(self): return self.take(1)[0]
    def u16(self): return struct.unpack("<H", self.take(2))[0]
    def u32(self): return struct.unpack("<I", self.take(4))[0]
    def u64(self): return struct.unpack("<Q", self.take(8))[0]
    def string(self): return self.take(self.u32()).decode("utf-8")
    def bytes32(self): return self.take(self.u32())
    def bytes64(self): return self.take(self.u64())

    def string_map(self):
        length = self.u32()
        c = Cursor(self.data, self.at, self.at + length)
        self.at = c.end
        out = {}
        while c.at < c.end:
            k = c.string()
            out[k] = c.string()
        return out


def records(data, at, end):
    """(offset, opcode, content cursor) of each record from at to end."""
    while at < end:
        need(at + 9 <= end, f"record header at {at} runs past the end ({end})")
        op = data[at]
        length = struct.unpack_from("<Q", data, at + 1)[0]
        need(at + 9 + length <= end, f"record {OP.get(op, op)} at {at}: length {length} runs past {end}")
        yield at, op, Cursor(data, at + 9, at + 9 + length)
        at += 9 + length


def schema(c):
    return {"id": c.u16(), "name": c.string(), "encoding": c.string(), "data": c.bytes32()}


def channel(c):
    return {"id": c.u16(), "schema_id": c.u16(), "topic": c.string(),
            "message_encoding": c.string(), "metadata": c.string_map()}


def decompress(compression, data, size):
    if compression == "":
        return data
    if compression == "zstd":
        import zstandard  # python3-zstandard
        return zstandard.ZstdDecompressor().decompress(data, max_output_size=size)
    raise Problem(f"chunk compression {compression!r} is not checked here")


def check(data):
    need(data[:8] == MAGIC, "no MCAP magic at the start")
    need(data[-8:] == MAGIC, "no MCAP magic at the end")
    schemas, channels, messages, chunks = {}, {}, [], []
    counts = {"Schema": 0, "Channel": 0, "Attachment": 0, "Metadata": 0}
    channel_counts = {}
    times = []
    data_end = None
    recs = records(data, 8, len(data) - 8)
    header_seen = False
    for at, op, c in recs:
        name = OP.get(op)
        if not header_seen:
            need(name == "Header", f"first record is {name}, not Header")
            c.string(); c.string()
            header_seen = True
            continue
        if name == "DataEnd":
            crc = c.u32()
            if crc:
                need(zlib.crc32(data[:at]) == crc, "DataEnd: data section CRC mismatch")
            data_end = at + 9 + 4
            break
        if name == "Schema":
            s = schema(c)
            need(schemas.setdefault(s["id"], s) == s, f"schema {s['id']} differs from its first record")
        elif name == "Channel":
            ch = channel(c)
            need(ch["schema_id"] in schemas, f"channel {ch['id']} before its schema")
            need(channels.setdefault(ch["id"], ch) == ch, f"channel {ch['id']} differs")
        elif name == "Chunk":
            start, end, size, crc = c.u64(), c.u64(), c.u64(), c.u32()
            compression = c.string()
            stored = c.bytes64()
            need(c.at == c.end, f"chunk at {at}: bytes after its records")
            inner = decompress(compression, stored, size)
            need(len(inner) == size, f"chunk at {at}: {len(inner)} bytes, header says {size}")
            if crc:
                need(zlib.crc32(inner) == crc, f"chunk at {at}: CRC mismatch")
            by_offset = {}
            for rel, iop, ic in records(inner, 0, len(inner)):
                iname = OP.get(iop)
                if iname == "Schema":
                    s = schema(ic)
                    need(schemas.setdefault(s["id"], s) == s, "schema in chunk differs")
                elif iname == "Channel":
                    ch = channel(ic)
                    need(ch["schema_id"] in schemas, "channel before its schema")
                    need(channels.setdefault(ch["id"], ch) == ch, "channel in chunk differs")
                elif iname == "Message":
                    m = {"channel_id": ic.u16(), "sequence": ic.u32(), "log_time": ic.u64(),
                         "publish_time": ic.u64()}
                    m["raw"] = ic.take(ic.end - ic.at)
                    need(m["channel_id"] in channels, f"message on unknown channel {m['channel_id']}")
                    need(start <= m["log_time"] <= end, f"chunk at {at}: message time outside its range")
                    by_offset[rel] = m
                    messages.append(m)
                    times.append(m["log_time"])
                    channel_counts[m["channel_id"]] = channel_counts.get(m["channel_id"], 0) + 1
                else:
                    raise Problem(f"chunk at {at}: unexpected {iname} record inside")
            chunk = {"offset": at, "length": c.end - at, "start": start, "end": end,
                     "compression": compression, "compressed_size": len(stored),
                     "uncompressed_size": size, "message_indexes": {}}
            # the message indexes follow their chunk
            indexed = 0
            for mat, mop, mc in (recs if by_offset else ()):
                need(OP.get(mop) == "MessageIndex",
                     f"after the chunk at {at}: {OP.get(mop)} where its message indexes were expected")
                cid = mc.u16()
                chunk["message_indexes"][cid] = mat
                entries = Cursor(data, mc.at + 4, mc.at + 4 + mc.u32())
                while entries.at < entries.end:
                    t, off = entries.u64(), entries.u64()
                    m = by_offset.get(off)
                    need(m is not None, f"message index of channel {cid}: offset {off} is no message")
                    need(m["channel_id"] == cid and m["log_time"] == t, f"message index entry {off} does not match its message")
                    indexed += 1
                if indexed == len(by_offset):
                    break
            need(indexed == len(by_offset), f"chunk at {at}: {len(by_offset)} messages, {indexed} indexed")
            chunks.append(chunk)
        elif name == "Message":
            raise Problem(f"message outside a chunk at {at}")
        elif name in counts:
            counts[name] += 1
        else:
            raise Problem(f"unexpected {name} record in the data section at {at}")
    need(data_end is not None, "no DataEnd record")

    # footer
    footer_at = len(data) - 8 - 9 - 20
    need(data[footer_at] == 0x02, "no Footer record before the closing magic")
    f = Cursor(data, footer_at + 9, footer_at + 29)
    summary_start, offset_start, summary_crc = f.u64(), f.u64(), f.u32()
    need(summary_start == data_end, f"footer: summary starts at {summary_start}, the data section ends at {data_end}")
    if summary_crc:
        need(zlib.crc32(data[summary_start:footer_at + 9 + 16]) == summary_crc, "footer: summary CRC mismatch")
    summary = {"Schema": [], "Channel": [], "ChunkIndex": [], "Statistics": [], "SummaryOffset": []}
    groups = []
    for at, op, c in records(data, summary_start, footer_at):
        name = OP.get(op)
        need(name in summary or name in ("AttachmentIndex", "MetadataIndex"), f"unexpected {name} in the summary")
        if name == "SummaryOffset":
            need(offset_start <= at, "summary offset record before summary_offset_start")
            groups.append((c.u8(), c.u64(), c.u64()))
            summary["SummaryOffset"].append(at)
            continue
        need(offset_start == 0 or at < offset_start, f"{name} record inside the summary offset section")
        if name == "Schema":
            s = schema(c)
            # a schema no message used may be in the summary only
            need(schemas.setdefault(s["id"], s) == s, f"summary schema {s['id']} differs from the data section's")
            summary["Schema"].append(s["id"])
        elif name == "Channel":
            ch = channel(c)
            need(channels.setdefault(ch["id"], ch) == ch, f"summary channel {ch['id']} differs")
            summary["Channel"].append(ch["id"])
        elif name == "ChunkIndex":
            ci = {"start": c.u64(), "end": c.u64(), "offset": c.u64(), "length": c.u64()}
            mi = Cursor(data, c.at + 4, c.at + 4 + c.u32())
            ci["message_indexes"] = {}
            while mi.at < mi.end:
                cid = mi.u16()
                ci["message_indexes"][cid] = mi.u64()
            c.at = mi.end
            c.u64()  # message index length
            ci["compression"] = c.string()
            ci["compressed_size"], ci["uncompressed_size"] = c.u64(), c.u64()
            summary["ChunkIndex"].append(ci)
        elif name == "Statistics":
            st = {"message_count": c.u64(), "schema_count": c.u16(), "channel_count": c.u32(),
                  "attachment_count": c.u32(), "metadata_count": c.u32(), "chunk_count": c.u32(),
                  "message_start_time": c.u64(), "message_end_time": c.u64()}
            cm = Cursor(data, c.at + 4, c.at + 4 + c.u32())
            st["channel_message_counts"] = {}
            while cm.at < cm.end:
                cid = cm.u16()
                st["channel_message_counts"][cid] = cm.u64()
            summary["Statistics"].append(st)
    # summary offsets: each group is exactly the records of its opcode
    for opcode, start, length in groups:
        for at, op, c in records(data, start, start + length):
            need(op == opcode, f"summary offset group {OP.get(opcode)} holds a {OP.get(op)} record")
    grouped = {OP.get(g[0]) for g in groups}
    for name in ("Schema", "Channel", "ChunkIndex", "Statistics"):
        need(not summary[name] or name in grouped, f"no summary offset for the {name} group")
    # the spec: a Schema and Channel record MUST be in the summary for every indexed message
    for cid in channel_counts:
        need(cid in summary["Channel"], f"channel {cid} has messages but no summary Channel record")
        need(channels[cid]["schema_id"] in summary["Schema"], f"the schema of channel {cid} is not in the summary")
    # chunk indexes against the chunks
    need(len(summary["ChunkIndex"]) == len(chunks), f"{len(summary['ChunkIndex'])} chunk indexes, {len(chunks)} chunks")
    for ci, ch in zip(summary["ChunkIndex"], chunks):
        need(ci["offset"] == ch["offset"] and ci["length"] == ch["length"], f"chunk index for {ch['offset']}: wrong offset/length")
        need((ci["start"], ci["end"]) == (ch["start"], ch["end"]), f"chunk index for {ch['offset']}: wrong times")
        need(ci["compression"] == ch["compression"], "chunk index: wrong compression")
        need((ci["compressed_size"], ci["uncompressed_size"]) == (ch["compressed_size"], ch["uncompressed_size"]), "chunk index: wrong sizes")
        need(ci["message_indexes"] == ch["message_indexes"], f"chunk index for {ch['offset']}: wrong message index offsets")
    need(len(summary["Statistics"]) == 1, "no Statistics record")
    st = summary["Statistics"][0]
    need(st["message_count"] == len(messages), f"statistics: {st['message_count']} messages, counted {len(messages)}")
    need(st["chunk_count"] == len(chunks), "statistics: wrong chunk count")
    need(st["schema_count"] == len(schemas) and st["channel_count"] == len(channels), "statistics: wrong schema/channel count")
    need(st["channel_message_counts"] == channel_counts, "statistics: wrong per-channel counts")
    if times:
        need((st["message_start_time"], st["message_end_time"]) == (min(times), max(times)), "statistics: wrong start/end time")
    out = []
    for m in messages:
        ch = channels[m["channel_id"]]
        s = schemas[ch["schema_id"]]
        need(ch["message_encoding"] == "json" and s["encoding"] == "jsonschema", "not json/jsonschema")
        json.loads(s["data"])
        out.append({"topic": ch["topic"], "metadata": ch["metadata"], "log_time": str(m["log_time"]),
                    "publish_time": str(m["publish_time"]), "sequence": m["sequence"],
                    "schema": s["name"], "data": json.loads(m["raw"])})
    st["channel_message_counts"] = {str(k): v for k, v in st["channel_message_counts"].items()}
    return {"messages": out, "statistics": st,
            "chunks": [{k: v for k, v in c.items() if k != "message_indexes"} for c in chunks],
            "summary": {k: len(v) for k, v in summary.items()}}


def main():
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    try:
        result = check(data)
    except Problem as problem:
        print(f"mcap_check: {problem}", file=sys.stderr)
        sys.exit(1)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
