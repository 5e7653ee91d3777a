#!/usr/bin/env python3
"""Benchmark documents from shared/data, separated by 0x1E: english (Gutenberg books),
code (re2/sentencepiece/flask sources), multilingual (UDHR, all languages).

    prepare_docs.py /work/shared/data OUT_DIR [english_MB [multilingual_MB [train_MB]]]

Also writes english.txt (Gutenberg books, train_MB, default 40) for the training benchmark.
"""
import io, json, subprocess, sys, tarfile

shared, out = sys.argv[1], sys.argv[2]
english_mb = float(sys.argv[3]) if len(sys.argv) > 3 else 10
multilingual_mb = float(sys.argv[4]) if len(sys.argv) > 4 else 100
train_mb = float(sys.argv[5]) if len(sys.argv) > 5 else 40

def zcat(path):
    return subprocess.run(["zstd", "-dc", path], check=True, capture_output=True).stdout

def write(name, docs):
    with open(f"{out}/{name}.docs", "wb") as f:
        f.write("\x1e".join(docs).encode("utf-8"))

books = [json.loads(l)["text"] for l in zcat(f"{shared}/books/gitenberg_books.jsonl.zst").decode("utf-8").splitlines()]
docs, size = [], 0
for text in books:
    # Paragraph-sized documents, as a data pipeline feeds them.
    for i in range(0, len(text), 20000):
        docs.append(text[i:i + 20000])
        size += len(docs[-1].encode("utf-8"))
    if size > english_mb * 1e6:
        break
write("english", docs)

docs = []
with tarfile.open(fileobj=io.BytesIO(zcat(f"{shared}/code/code_re2_sentencepiece_flask.tar.zst"))) as tar:
    for m in tar.getmembers():
        if m.isfile():
            data = tar.extractfile(m).read()
            try:
                docs.append(data.decode("utf-8"))
            except UnicodeDecodeError:
                pass
write("code", docs)

docs, size = [], 0
for line in zcat(f"{shared}/multilingual/udhr.jsonl.zst").decode("utf-8").splitlines():
    docs.append(json.loads(line)["text"])
    size += len(docs[-1].encode("utf-8"))
    if size > multilingual_mb * 1e6:
        break
write("multilingual", docs)
# Books as one text file, for training (HF and kiln read it line by line).
with open(f"{out}/english.txt", "w", encoding="utf-8") as f:
    size = 0
    for text in books:
        f.write(text)
        size += len(text.encode("utf-8"))
        if size > train_mb * 1e6:
            break
