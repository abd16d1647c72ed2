#!/usr/bin/env python3
"""An independent verifier of coldchain proof bundles, written from
docs/PROOFS.md and docs/FORMATS.md alone (it shares no code with the Rust
one). Python 3.11, the standard library and `cryptography` (Ed25519).

    python3 coldchain_verify.py --genesis genesis.json proof.json ...

One line per file: `<file> VALID`, `<file> INVALID check <N>: <reason>`
(N is 0-7 or S, the checks of docs/PROOFS.md) or `<file> ERROR: <reason>` when the file is not a bundle.
Bundles of version 1 (genesis's validators) and 2 (a later epoch's, with the
chain of epoch certificates from genesis, check 7) are read.
Exit code 0: all valid; 2: one is invalid; 1: one could not be read.
"""

import hashlib
import json
import sys
from decimal import Decimal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

P = 2**255 - 19  # the field of edwards25519
L = 2**252 + 27742317777372353535851937790883648493  # its group order
# The y coordinates of the 8 points of small order (orders 1, 2, 4, 8).
Y8 = int.from_bytes(bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"), "little")
SMALL_ORDER_Y = {1, P - 1, 0, Y8, P - Y8}
D = -121665 * pow(121666, P - 2, P) % P  # the curve's d: -x^2 + y^2 = 1 + d x^2 y^2
EMPTY = b"SPARSE_MERKLE_PLACEHOLDER_HASH__"


class Unreadable(Exception):
    """The file is not a bundle (what the Rust tool refuses to parse)."""


class Invalid(Exception):
    def __init__(self, check, reason):
        super().__init__(reason)
        self.check = check


def sha256(*parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.digest()


# ---------------------------------------------------------------- shapes
# The Rust verifier reads a bundle with serde: unknown members are ignored,
# missing ones (but optional ones) and wrong types make the file unreadable.

def field(obj, name, where, optional=False):
    if not isinstance(obj, dict):
        raise Unreadable(f"{where} is not an object")
    if name not in obj or (optional and obj[name] is None):
        if optional:
            return None
        raise Unreadable(f"{where}: missing `{name}`")
    return obj[name]


def uint(v, bits, what):
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < 2**bits:
        raise Unreadable(f"{what} must be an integer of {bits} bits")
    return v


def i64(v, what):
    if isinstance(v, bool) or not isinstance(v, int) or not -(2**63) <= v < 2**63:
        raise Unreadable(f"{what} must be a signed integer of 64 bits")
    return v


def text(v, what):
    if not isinstance(v, str):
        raise Unreadable(f"{what} must be a string")
    return v


def utf8(v, what):
    """A string that must be valid Unicode (no lone surrogate), as its UTF-8 bytes."""
    try:
        return text(v, what).encode("utf-8")
    except UnicodeEncodeError:
        raise Unreadable(f"{what} is not Unicode (a lone surrogate)")


def unhex(s):
    """Hex as the Rust verifier reads it: either case, an optional 0x."""
    if s[:2] in ("0x", "0X"):
        s = s[2:]
    if len(s) % 2 or any(c not in "0123456789abcdefABCDEF" for c in s):
        return None
    return bytes.fromhex(s)


def hexbytes(v, n, what):
    b = unhex(text(v, what))
    if b is None or len(b) != n:
        raise Unreadable(f"{what} must be {2 * n} hexadecimal characters")
    return b


def array(v, what):
    if not isinstance(v, list):
        raise Unreadable(f"{what} must be an array")
    return v


def header(h, what):
    return {
        "chain_id": text(field(h, "chain_id", what), what + ".chain_id"),
        "height": uint(field(h, "height", what), 64, what + ".height"),
        "view": uint(field(h, "view", what), 64, what + ".view"),
        "parent": hexbytes(field(h, "parent", what), 32, what + ".parent"),
        "tx_root": hexbytes(field(h, "tx_root", what), 32, what + ".tx_root"),
        "time_ms": i64(field(h, "time_ms", what), what + ".time_ms"),
        "proposer": uint(field(h, "proposer", what), 16, what + ".proposer"),
        "tx_count": uint(field(h, "tx_count", what), 32, what + ".tx_count"),
        "state_height": uint(field(h, "state_height", what), 64, what + ".state_height"),
        "state_root": hexbytes(field(h, "state_root", what), 32, what + ".state_root"),
    }


def signatures(v, what):
    sigs = []
    for i, s in enumerate(array(v, what)):
        w = f"{what}[{i}]"
        sigs.append((uint(field(s, "signer", w), 16, w + ".signer"), hexbytes(field(s, "signature", w), 64, w + ".signature")))
    return sigs


def certificate(f):
    kind = text(field(f, "kind", "finalization"), "finalization.kind")
    if kind not in ("notarize", "nullify", "finalize"):
        raise Unreadable(f"finalization.kind \"{kind}\" is not a vote kind")
    return {"kind": kind, "view": uint(field(f, "view", "finalization"), 64, "finalization.view"),
            "hash": hexbytes(field(f, "hash", "finalization"), 32, "finalization.hash"),
            "signatures": signatures(field(f, "signatures", "finalization"), "finalization.signatures")}


def epoch_certificates(b):
    """`epochs`: absent means none; each an epoch change and its signatures."""
    if "epochs" not in b:
        return []
    out = []
    for i, c in enumerate(array(b["epochs"], "epochs")):
        w = f"epochs[{i}].change"
        ch = field(c, "change", f"epochs[{i}]")
        validators = []
        for j, v in enumerate(array(field(ch, "validators", w), w + ".validators")):
            wv = f"{w}.validators[{j}]"
            validators.append((hexbytes(field(v, "public_key", wv), 32, wv + ".public_key"),
                               utf8(field(v, "province", wv), wv + ".province"), utf8(field(v, "name", wv), wv + ".name")))
        out.append({"chain_id": text(field(ch, "chain_id", w), w + ".chain_id"), "chain_id_bytes": utf8(ch["chain_id"], w + ".chain_id"),
                    "epoch": uint(field(ch, "epoch", w), 64, w + ".epoch"),
                    "last_height": uint(field(ch, "last_height", w), 64, w + ".last_height"),
                    "last_hash": hexbytes(field(ch, "last_hash", w), 32, w + ".last_hash"),
                    "last_view": uint(field(ch, "last_view", w), 64, w + ".last_view"), "validators": validators,
                    "signatures": signatures(field(c, "signatures", f"epochs[{i}]"), f"epochs[{i}].signatures")})
    return out


def change_bytes(ch):
    """What a quorum of the epoch before signs (docs/FORMATS.md, "Epoch change")."""
    c = ch["chain_id_bytes"]
    out = [b"coldchain-epoch-v1\x00", len(c).to_bytes(2, "big"), c, ch["epoch"].to_bytes(8, "big"),
           ch["last_height"].to_bytes(8, "big"), ch["last_hash"], ch["last_view"].to_bytes(8, "big"),
           len(ch["validators"]).to_bytes(2, "big")]
    for key, province, name in ch["validators"]:
        out += [key, bytes([min(len(province), 255)]), province[:255], bytes([min(len(name), 255)]), name[:255]]
    return b"".join(out)


# ---------------------------------------------------------------- RFC 8785

def js_number(x):
    """ECMAScript Number::toString of a finite double (RFC 8785 numbers)."""
    if x != x or x in (float("inf"), float("-inf")):
        raise Unreadable("a number is not a finite double")
    if x == 0:
        return "0"
    if x < 0:
        return "-" + js_number(-x)
    _, digits, exp = Decimal(repr(x)).as_tuple()  # repr: the shortest round-trip digits
    s = "".join(map(str, digits)).rstrip("0")
    exp += len(digits) - len(s)
    k, n = len(s), exp + len(s)  # x = 0.s × 10^n
    if k <= n <= 21:
        return s + "0" * (n - k)
    if 0 < n <= 21:
        return s[:n] + "." + s[n:]
    if -6 < n <= 0:
        return "0." + "0" * -n + s
    e = n - 1
    return (s if k == 1 else s[0] + "." + s[1:]) + "e" + ("+" if e >= 0 else "-") + str(abs(e))


ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def jcs_string(s):
    out = ['"']
    for ch in s:
        if ch in ESCAPES:
            out.append(ESCAPES[ch])
        elif ch < " ":
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def jcs(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return js_number(float(v))  # an IEEE double, as RFC 8785 reads every number
    if isinstance(v, float):
        return js_number(v)
    if isinstance(v, str):
        return jcs_string(v)
    if isinstance(v, list):
        return "[" + ",".join(jcs(x) for x in v) + "]"
    keys = sorted(v, key=lambda k: k.encode("utf-16-be", "surrogatepass"))  # by UTF-16 code units
    return "{" + ",".join(jcs_string(k) + ":" + jcs(v[k]) for k in keys) + "}"


def transaction_bytes(tx):
    """The canonical bytes of a transaction: its five members, in RFC 8785."""
    chain_id = text(field(tx, "chain_id", "transaction"), "transaction.chain_id")
    nonce = uint(field(tx, "nonce", "transaction"), 64, "transaction.nonce")
    record = field(tx, "record", "transaction")
    signer = field(tx, "signer", "transaction")
    algorithm = text(field(signer, "algorithm", "transaction.signer"), "transaction.signer.algorithm")
    public_key = hexbytes(field(signer, "public_key", "transaction.signer"), 32, "transaction.signer.public_key")
    signature = hexbytes(field(tx, "signature", "transaction"), 64, "transaction.signature")
    text_ = ("{\"chain_id\":" + jcs_string(chain_id) + ",\"nonce\":" + str(nonce) + ",\"record\":" + jcs(record)
             + ",\"signature\":\"" + signature.hex() + "\",\"signer\":{\"algorithm\":" + jcs_string(algorithm)
             + ",\"public_key\":\"" + public_key.hex() + "\"}}")
    try:
        return chain_id, text_.encode("utf-8")
    except UnicodeEncodeError:
        raise Unreadable("a string of the transaction is not Unicode (a lone surrogate)")


# ---------------------------------------------------------------- ed25519

def point_ok(enc):
    """A canonical encoding (y < p) of a point that is not of small order."""
    y = int.from_bytes(enc, "little") & (2**255 - 1)
    return y < P and y not in SMALL_ORDER_Y


def decompresses(enc):
    """What ed25519-dalek takes for a key (VerifyingKey::from_bytes): y, the
    255 low bits read little-endian and reduced mod p, is a point's, i.e.
    (y^2 - 1) / (d y^2 + 1) is a square mod p (zero included)."""
    y = (int.from_bytes(enc, "little") & (2**255 - 1)) % P
    r = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    return r == 0 or pow(r, (P - 1) // 2, P) == 1


def verify_strict(public, message, sig):
    """ed25519-dalek's verify_strict: s < L, R and A not of small order."""
    if int.from_bytes(sig[32:], "little") >= L or not point_ok(sig[:32]) or not point_ok(public):
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(sig, message)
        return True
    except (InvalidSignature, ValueError):
        return False


# ---------------------------------------------------------------- checks

class Epoch:
    """One epoch's validator set: epoch 0 is genesis's; each later one is
    the list of the certificate that started it, after its `last_*` block."""

    def __init__(self, number, after_height, after_view, keys):
        self.number, self.after_height, self.after_view, self.keys = number, after_height, after_view, keys
        n = len(keys)
        self.quorum = n - (n - 1) // 3


class Verifier:
    def __init__(self, genesis):
        self.chain_id = text(field(genesis, "chain_id", "genesis"), "genesis.chain_id")
        if not 1 <= len(self.chain_id.encode()) <= 64:
            raise Unreadable("genesis: `chain_id` must be 1 to 64 characters")
        validators = array(field(genesis, "validators", "genesis"), "genesis.validators")
        if not 1 <= len(validators) <= 64:
            raise Unreadable("genesis: 1 to 64 validators")
        keys = []
        for i, v in enumerate(validators):
            raw = unhex(text(field(v, "public_key", f"validators[{i}]"), "public_key")) or b""
            if len(raw) != 32 or not point_ok(raw):
                raise Unreadable(f"genesis: validator {i}'s key is not a valid ed25519 key")
            keys.append(raw)
        self.genesis = Epoch(0, 0, 0, keys)

    def check_chain(self, chains):
        for c in chains:
            if c != self.chain_id:
                raise Invalid(1, f"the proof is for chain \"{c}\", the genesis file is for \"{self.chain_id}\"")

    def walk_epochs(self, epochs):
        """Check 7: from genesis's validators, each epoch change signed by a
        quorum of the epoch before. Returns the last epoch reached."""
        cur = self.genesis
        for ch in epochs:
            n = ch["epoch"]
            if ch["chain_id"] != self.chain_id:
                raise Invalid(7, f"the epoch change is for chain \"{ch['chain_id']}\", not \"{self.chain_id}\"")
            if n <= cur.number:
                raise Invalid(7, f"epoch {n} does not follow epoch {cur.number}")
            if ch["last_height"] < cur.after_height or (
                    cur.number > 0 and ch["last_height"] == cur.after_height and ch["last_view"] < cur.after_view):
                raise Invalid(7, f"epoch {n} starts after height {ch['last_height']}, below epoch {cur.number}'s start "
                                 f"(height {cur.after_height})")
            keys = [v[0] for v in ch["validators"]]
            if not 1 <= len(keys) <= 64 or len(set(keys)) != len(keys) or not all(decompresses(k) for k in keys):
                raise Invalid(7, f"epoch {n} lists no validators, more than 64, one key twice or a key that is no point")
            message = change_bytes(ch)
            seen = set()
            for signer, sig in ch["signatures"]:
                if signer >= len(cur.keys):
                    raise Invalid(7, f"signer index {signer} is not a validator of epoch {cur.number}")
                if signer in seen:
                    raise Invalid(7, f"validator {signer} signed the epoch change twice")
                seen.add(signer)
                if not verify_strict(cur.keys[signer], message, sig):
                    raise Invalid(7, f"the signature of validator {signer} of epoch {cur.number} does not verify for this epoch change")
            if len(seen) < cur.quorum:
                raise Invalid(7, f"only {len(seen)} validators of epoch {cur.number} signed the change to epoch {n}; "
                                 f"its quorum is {cur.quorum}")
            cur = Epoch(n, ch["last_height"], ch["last_view"], keys)
        return cur

    def certified(self, head, links, cert, epochs):
        """Check 7, then 4-6: the epochs, header and links, the certificate
        of the last one by the last epoch's validators (or, without one, the
        last epoch certificate naming the last header)."""
        epoch = self.walk_epochs(epochs)
        tip, tip_hash = head, header_hash(head)
        for link in links:
            if link["parent"] != tip_hash or link["height"] != tip["height"] + 1:
                raise Invalid(4, f"link at height {link['height']} does not extend the block before it")
            tip, tip_hash = link, header_hash(link)
        if cert is None:
            if not epochs:
                raise Invalid(7, "the bundle has neither a finalization nor an epoch certificate")
            last = epochs[-1]
            if last["last_hash"] != tip_hash or last["last_height"] != tip["height"]:
                raise Invalid(7, f"epoch {last['epoch']} starts after block {last['last_hash'].hex()} at height {last['last_height']}, "
                                 f"but the header chain ends at {tip_hash.hex()} (height {tip['height']})")
            return
        if epoch.number > 0 and tip["height"] <= epoch.after_height:
            raise Invalid(7, f"the certified block (height {tip['height']}) is not of epoch {epoch.number}, "
                             f"which starts after height {epoch.after_height}")
        if cert["hash"] != tip_hash or cert["view"] != tip["view"]:
            raise Invalid(5, f"the finalization certifies {cert['hash'].hex()} at view {cert['view']}, "
                             f"but the header chain ends at {tip_hash.hex()} (view {tip['view']})")
        if cert["kind"] != "finalize":
            raise Invalid(6, f"a {cert['kind']} certificate, not finalize")
        # Epoch N >= 1 signs its votes under "<chain_id>/epoch-N", epoch 0 under the chain id.
        c = (self.chain_id if epoch.number == 0 else f"{self.chain_id}/epoch-{epoch.number}").encode()
        message = b"coldchain-finalize-v1\x00" + len(c).to_bytes(2, "big") + c + cert["view"].to_bytes(8, "big") + cert["hash"]
        seen = set()
        for signer, sig in cert["signatures"]:
            if signer >= len(epoch.keys):
                raise Invalid(6, f"signer index {signer} is not a validator of epoch {epoch.number}")
            if signer in seen:
                raise Invalid(6, f"validator {signer} signed the certificate twice")
            seen.add(signer)
            if not verify_strict(epoch.keys[signer], message, sig):
                raise Invalid(6, f"signature of validator {signer} does not verify for this chain, view and hash")
        if len(seen) < epoch.quorum:
            raise Invalid(6, f"only {len(seen)} distinct validators signed; the quorum is {epoch.quorum}")

    def transaction_proof(self, b):
        version = uint(field(b, "version", "proof"), 32, "version")
        tx_id = hexbytes(field(b, "tx_id", "proof"), 32, "tx_id")
        tx = field(b, "transaction", "proof", optional=True)
        tx_bytes = transaction_bytes(tx) if tx is not None else None
        index = uint(field(b, "leaf_index", "proof"), 64, "leaf_index")
        path = [hexbytes(p, 32, "merkle_path") for p in array(field(b, "merkle_path", "proof"), "merkle_path")]
        head = header(field(b, "header", "proof"), "header")
        links = [header(h, "link") for h in array(field(b, "links", "proof"), "links")]
        fin = field(b, "finalization", "proof", optional=True)
        cert = certificate(fin) if fin is not None else None
        epochs = epoch_certificates(b)
        if version not in (1, 2):
            raise Invalid(0, f"unsupported proof version {version}")
        if version != (2 if epochs else 1):
            raise Invalid(0, f"proof version {version} with {len(epochs)} epoch certificates: version 1 carries none, version 2 at least one")
        self.check_chain(([tx_bytes[0]] if tx_bytes else []) + [head["chain_id"]] + [h["chain_id"] for h in links])
        if tx_bytes is not None and sha256(tx_bytes[1]) != tx_id:
            raise Invalid(2, f"its SHA-256 is {sha256(tx_bytes[1]).hex()}, the proof claims {tx_id.hex()}")
        if not merkle_ok(tx_id, index, head["tx_count"], path, head["tx_root"]):
            raise Invalid(3, f"leaf {index} of {head['tx_count']} does not lead to the header's tx_root")
        self.certified(head, links, cert, epochs)

    def state_proof(self, b):
        version = uint(field(b, "version", "proof"), 32, "version")
        entries = []
        for i, e in enumerate(array(field(b, "entries", "proof"), "entries")):
            w = f"entries[{i}]"
            proof = field(e, "proof", w)
            leaf = field(proof, "leaf", w + ".proof", optional=True)
            if leaf is not None:
                leaf = (hexbytes(field(leaf, "key_hash", w), 32, w + ".key_hash"), hexbytes(field(leaf, "value_hash", w), 32, w + ".value_hash"))
            value = field(e, "value", w, optional=True)
            entries.append((text(field(e, "key", w), w + ".key"), None if value is None else text(value, w + ".value"),
                            leaf, [hexbytes(s, 32, w + ".siblings") for s in array(field(proof, "siblings", w), w + ".siblings")]))
        head = header(field(b, "header", "proof"), "header")
        links = [header(h, "link") for h in array(field(b, "links", "proof"), "links")]
        cert = certificate(field(b, "finalization", "proof"))  # never null in a state proof
        epochs = epoch_certificates(b)  # version 1 still, with or without them
        if version != 1:
            raise Invalid(0, f"unsupported state proof version {version}")
        self.check_chain([head["chain_id"]] + [h["chain_id"] for h in links])
        if not entries:
            raise Invalid("S", "the proof has no entries")
        for i, (key_hex, value_hex, leaf, siblings) in enumerate(entries):
            key, value = unhex(key_hex), None if value_hex is None else unhex(value_hex)
            if key is None or (value_hex is not None and value is None):
                raise Invalid("S", f"entry {i}: {'key' if key is None else 'value'} is not hexadecimal")
            problem = state_entry_problem(key, value, leaf, siblings, head["state_root"])
            if problem:
                raise Invalid("S", f"entry {i}: {problem}")
        self.certified(head, links, cert, epochs)


def header_hash(h):
    c = h["chain_id"].encode("utf-8")
    return sha256(b"coldchain-header-v2\x00", len(c).to_bytes(2, "big"), c, h["height"].to_bytes(8, "big"),
                  h["view"].to_bytes(8, "big"), h["parent"], h["tx_root"], h["time_ms"].to_bytes(8, "big", signed=True),
                  h["proposer"].to_bytes(2, "big"), h["tx_count"].to_bytes(4, "big"), h["state_height"].to_bytes(8, "big"),
                  h["state_root"])


def merkle_ok(tx_id, index, width, path, root):
    if index >= width:
        return False
    node, path = sha256(b"\x00", tx_id), list(path)
    while width > 1:
        if index % 2 == 1:
            if not path:
                return False
            node = sha256(b"\x01", path.pop(0), node)
        elif index + 1 < width:
            if not path:
                return False
            node = sha256(b"\x01", node, path.pop(0))
        index, width = index // 2, (width + 1) // 2
    return not path and node == root


def bit(h, i):
    return (h[i // 8] >> (7 - i % 8)) & 1


def state_entry_problem(key, value, leaf, siblings, root):
    n = len(siblings)
    if n > 256:
        return f"the proof has {n} sibling hashes; a path has at most 256"
    kh = sha256(key)
    if value is not None:
        if leaf is None:
            return "the proof shows the key absent, but a value was given"
        if leaf[0] != kh:
            return f"the proof's leaf is for key hash {leaf[0].hex()}, not this key's {kh.hex()}"
        if leaf[1] != sha256(value):
            return f"the value's hash {sha256(value).hex()} is not the proof leaf's {leaf[1].hex()}"
    elif leaf is not None:
        if leaf[0] == kh:
            return "the proof shows the key present, but absence was claimed"
        if any(bit(kh, i) != bit(leaf[0], i) for i in range(n)):
            return f"the leaf {leaf[0].hex()} is not alone on the key's path: it does not prove absence"
    node = sha256(b"JMT::LeafNode", leaf[0], leaf[1]) if leaf else EMPTY
    for i, sibling in enumerate(siblings):
        if bit(kh, n - 1 - i):
            node = sha256(b"JMT::IntrnalNode", sibling, node)
        else:
            node = sha256(b"JMT::IntrnalNode", node, sibling)
    if node != root:
        return f"the proof leads to root {node.hex()}, not {root.hex()}"
    return None


def no_constants(name):
    raise ValueError(f"{name} is not JSON")


def load(path):
    with open(path, "rb") as f:
        return json.loads(f.read().decode("utf-8"), parse_constant=no_constants)


def main(argv):
    if len(argv) < 3 or argv[0] != "--genesis":
        print("usage: coldchain_verify.py --genesis GENESIS.json PROOF.json ...", file=sys.stderr)
        return 1
    try:
        verifier = Verifier(load(argv[1]))
    except (OSError, ValueError, Unreadable) as e:
        print(f"cannot read genesis {argv[1]}: {e}", file=sys.stderr)
        return 1
    unreadable = invalid = False
    for path in argv[2:]:
        try:
            b = load(path)
            if isinstance(b, dict) and "result" in b and "success" in b:
                b = b["result"]  # the gateway's envelope, saved as is
            if isinstance(b, dict) and b.get("kind") == "state":
                verifier.state_proof(b)
            else:
                verifier.transaction_proof(b)
            print(f"{path} VALID")
        except Invalid as e:
            print(f"{path} INVALID check {e.check}: {e}")
            invalid = True
        except (OSError, ValueError, RecursionError, Unreadable) as e:
            print(f"{path} ERROR: {e}")
            unreadable = True
    return 1 if unreadable else 2 if invalid else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
