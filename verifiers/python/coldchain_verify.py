#!/usr/bin/env python3
"""An independent verifier of coldchain proof bundles, written from
docs/PROOFS.md and docs/FORMATS.md alone (it shares no code with the Rust
one). Python 3.11, the standard library and `cryptography` (Ed25519).

    python3 coldchain_verify.py --genesis genesis.json proof.json ...

One line per file: `<file> VALID`, `<file> INVALID check <N>: <reason>`
(N is 0-6 or S, the checks of docs/PROOFS.md) or `<file> ERROR: <reason>` when the file is not a bundle.
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


def certificate(f):
    kind = text(field(f, "kind", "finalization"), "finalization.kind")
    if kind not in ("notarize", "nullify", "finalize"):
        raise Unreadable(f"finalization.kind \"{kind}\" is not a vote kind")
    sigs = []
    for i, s in enumerate(array(field(f, "signatures", "finalization"), "finalization.signatures")):
        w = f"finalization.signatures[{i}]"
        sigs.append((uint(field(s, "signer", w), 16, w + ".signer"), hexbytes(field(s, "signature", w), 64, w + ".signature")))
    return {"kind": kind, "view": uint(field(f, "view", "finalization"), 64, "finalization.view"),
            "hash": hexbytes(field(f, "hash", "finalization"), 32, "finalization.hash"), "signatures": sigs}


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


def verify_strict(key, public, message, sig):
    """ed25519-dalek's verify_strict: s < L, R and A not of small order."""
    if int.from_bytes(sig[32:], "little") >= L or not point_ok(sig[:32]) or not point_ok(public):
        return False
    try:
        key.verify(sig, message)
        return True
    except InvalidSignature:
        return False


# ---------------------------------------------------------------- checks

class Verifier:
    def __init__(self, genesis):
        self.chain_id = text(field(genesis, "chain_id", "genesis"), "genesis.chain_id")
        if not 1 <= len(self.chain_id.encode()) <= 64:
            raise Unreadable("genesis: `chain_id` must be 1 to 64 characters")
        validators = array(field(genesis, "validators", "genesis"), "genesis.validators")
        if not 1 <= len(validators) <= 64:
            raise Unreadable("genesis: 1 to 64 validators")
        self.keys = []
        for i, v in enumerate(validators):
            raw = unhex(text(field(v, "public_key", f"validators[{i}]"), "public_key")) or b""
            if len(raw) != 32 or not point_ok(raw):
                raise Unreadable(f"genesis: validator {i}'s key is not a valid ed25519 key")
            self.keys.append((raw, Ed25519PublicKey.from_public_bytes(raw)))
        n = len(self.keys)
        self.quorum = n - (n - 1) // 3

    def check_chain(self, chains):
        for c in chains:
            if c != self.chain_id:
                raise Invalid(1, f"the proof is for chain \"{c}\", the genesis file is for \"{self.chain_id}\"")

    def certified(self, head, links, cert):
        """Checks 4-6: header, links, the certificate of the last one."""
        tip, tip_hash = head, header_hash(head)
        for link in links:
            if link["parent"] != tip_hash or link["height"] != tip["height"] + 1:
                raise Invalid(4, f"link at height {link['height']} does not extend the block before it")
            tip, tip_hash = link, header_hash(link)
        if cert["hash"] != tip_hash or cert["view"] != tip["view"]:
            raise Invalid(5, f"the finalization certifies {cert['hash'].hex()} at view {cert['view']}, "
                             f"but the header chain ends at {tip_hash.hex()} (view {tip['view']})")
        if cert["kind"] != "finalize":
            raise Invalid(6, f"a {cert['kind']} certificate, not finalize")
        c = self.chain_id.encode()
        message = b"coldchain-finalize-v1\x00" + len(c).to_bytes(2, "big") + c + cert["view"].to_bytes(8, "big") + cert["hash"]
        seen = set()
        for signer, sig in cert["signatures"]:
            if signer >= len(self.keys):
                raise Invalid(6, f"signer index {signer} is not a validator in genesis")
            if signer in seen:
                raise Invalid(6, f"validator {signer} signed the certificate twice")
            seen.add(signer)
            raw, key = self.keys[signer]
            if not verify_strict(key, raw, message, sig):
                raise Invalid(6, f"signature of validator {signer} does not verify for this chain, view and hash")
        if len(seen) < self.quorum:
            raise Invalid(6, f"only {len(seen)} distinct validators signed; the quorum is {self.quorum}")

    def transaction_proof(self, b):
        version = uint(field(b, "version", "proof"), 32, "version")
        tx_id = hexbytes(field(b, "tx_id", "proof"), 32, "tx_id")
        tx = field(b, "transaction", "proof", optional=True)
        tx_bytes = transaction_bytes(tx) if tx is not None else None
        index = uint(field(b, "leaf_index", "proof"), 64, "leaf_index")
        path = [hexbytes(p, 32, "merkle_path") for p in array(field(b, "merkle_path", "proof"), "merkle_path")]
        head = header(field(b, "header", "proof"), "header")
        links = [header(h, "link") for h in array(field(b, "links", "proof"), "links")]
        cert = certificate(field(b, "finalization", "proof"))
        if version != 1:
            raise Invalid(0, f"unsupported proof version {version}")
        self.check_chain(([tx_bytes[0]] if tx_bytes else []) + [head["chain_id"]] + [h["chain_id"] for h in links])
        if tx_bytes is not None and sha256(tx_bytes[1]) != tx_id:
            raise Invalid(2, f"its SHA-256 is {sha256(tx_bytes[1]).hex()}, the proof claims {tx_id.hex()}")
        if not merkle_ok(tx_id, index, head["tx_count"], path, head["tx_root"]):
            raise Invalid(3, f"leaf {index} of {head['tx_count']} does not lead to the header's tx_root")
        self.certified(head, links, cert)

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
        cert = certificate(field(b, "finalization", "proof"))
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
        self.certified(head, links, cert)


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
