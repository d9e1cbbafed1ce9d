#!/usr/bin/python3
"""An independent reader of vmkit backup repositories, written from the
README's "Backup repository format" alone (plain and encrypted): rebuild
snapshot SNAP of REPO as the raw disk OUT, checking every chunk.  The
tests compare what it writes with `vmkit backup restore`.

    backup_read.py REPO SNAP OUT      (secret: $VMKIT_BACKUP_PASSPHRASE)
    backup_read.py REPO SNAP --list   the snapshot's chunk files, in order

Needs Debian's python3-cryptography (AES-GCM) and the zstd command;
hashlib's scrypt and hmac are the standard library's."""
import hashlib, hmac, json, os, subprocess, sys

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

repo, snap, out = sys.argv[1:4]
cfg = json.load(open(os.path.join(repo, "config")))
assert cfg["format"] == "vmkit-backup" and cfg["version"] == 1, cfg
assert cfg["compression"] == "zstd"
enc = cfg["encryption"]
if enc == "aes-256-gcm":
    assert cfg["hash"] == "hmac-sha256"
    k = cfg["kdf"]
    assert k["name"] == "scrypt"
    secret = os.environb[b"VMKIT_BACKUP_PASSPHRASE"]
    kek = hashlib.scrypt(secret, salt=bytes.fromhex(k["salt"]), n=k["n"], r=k["r"],
                         p=k["p"], maxmem=256 << 20, dklen=32)
    wrapped = bytes.fromhex(cfg["key"])
    aad = b"vmkit-backup key v1 chunk_size=%d" % cfg["chunk_size"]
    master = AESGCM(kek).decrypt(wrapped[:12], wrapped[12:], aad)
    enc_key, mac_key = master[:32], master[32:]

    def unseal(data, aad):
        return AESGCM(enc_key).decrypt(data[:12], data[12:], aad)

    def name_of(plain):
        return hmac.new(mac_key, plain, hashlib.sha256).hexdigest()
else:
    assert enc == "none" and cfg["hash"] == "sha256", cfg

    def unseal(data, aad):
        return data

    def name_of(plain):
        return hashlib.sha256(plain).hexdigest()

raw = open(os.path.join(repo, "snapshots", snap + ".json"), "rb").read()
s = json.loads(unseal(raw, b"vmkit-backup snapshot " + snap.encode()))
assert s["id"] == snap and s["chunk_size"] == cfg["chunk_size"]
if out == "--list":
    for x in s["extents"]:
        print(os.path.join(repo, "chunks", x["chunk"][:2], x["chunk"]))
    sys.exit(0)
with open(out, "wb") as f:
    f.truncate(s["size"])
    for x in s["extents"]:
        name = x["chunk"]
        data = open(os.path.join(repo, "chunks", name[:2], name), "rb").read()
        frame = unseal(data, bytes.fromhex(name))
        plain = subprocess.run(["zstd", "-dcq"], input=frame, stdout=subprocess.PIPE,
                               check=True).stdout
        assert len(plain) == x["length"], (name, len(plain))
        assert name_of(plain) == name, name
        f.seek(x["offset"])
        f.write(plain)
print("%s: %d extents" % (snap, len(s["extents"])))
