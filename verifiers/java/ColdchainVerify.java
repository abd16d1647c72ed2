// An independent verifier of coldchain proof bundles, written from
// docs/PROOFS.md and docs/FORMATS.md alone (it shares no code with the Rust
// one). JDK 17 only: Ed25519 and SHA-256 from java.security, a small JSON
// parser of its own.
//
//     java ColdchainVerify.java --genesis genesis.json proof.json ...
//
// One line per file: `<file> VALID`, `<file> INVALID check <N>: <reason>`
// (N is 0-7 or S, the checks of docs/PROOFS.md) or `<file> ERROR: <reason>` when the file is not a bundle.
// Bundles of version 1 (genesis's validators) and 2 (a later epoch's, with the
// chain of epoch certificates from genesis, check 7) are read.
// Exit code 0: all valid; 2: one is invalid; 1: one could not be read.

import java.io.ByteArrayOutputStream;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.MathContext;
import java.math.RoundingMode;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.X509EncodedKeySpec;
import java.util.*;

public class ColdchainVerify {
    static final BigInteger P = BigInteger.TWO.pow(255).subtract(BigInteger.valueOf(19));
    static final BigInteger L = BigInteger.TWO.pow(252).add(new BigInteger("27742317777372353535851937790883648493"));
    static final BigInteger Y8 = le(hex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"));
    // The y coordinates of the 8 points of small order (orders 1, 2, 4, 8).
    static final Set<BigInteger> SMALL_ORDER_Y = Set.of(BigInteger.ONE, P.subtract(BigInteger.ONE), BigInteger.ZERO, Y8, P.subtract(Y8));
    // The curve's d: -x^2 + y^2 = 1 + d x^2 y^2.
    static final BigInteger D = BigInteger.valueOf(-121665).multiply(BigInteger.valueOf(121666).modInverse(P)).mod(P);
    static final byte[] EMPTY = "SPARSE_MERKLE_PLACEHOLDER_HASH__".getBytes(StandardCharsets.US_ASCII);

    /** The file is not a bundle (what the Rust tool refuses to parse). */
    static class Unreadable extends Exception { Unreadable(String m) { super(m); } }

    static class Invalid extends Exception {
        final String check;
        Invalid(String check, String m) { super(m); this.check = check; }
    }

    // ------------------------------------------------------------ JSON

    static final Object NULL = new Object();

    /** A JSON number: its text, read as RFC 8785 reads numbers (an IEEE double) when needed. */
    record Num(String text) {
        boolean integral() { return text.indexOf('.') < 0 && text.indexOf('e') < 0 && text.indexOf('E') < 0; }
        double dbl() { return integral() ? new BigInteger(text).doubleValue() : Double.parseDouble(text); }
    }

    static final class Parser {
        final String s;
        int i;
        Parser(String s) { this.s = s; }

        static Object parse(String s) throws Unreadable {
            Parser p = new Parser(s);
            Object v = p.value(0);
            p.ws();
            if (p.i != s.length()) throw new Unreadable("trailing characters after the JSON value");
            return v;
        }

        void ws() { while (i < s.length() && " \t\r\n".indexOf(s.charAt(i)) >= 0) i++; }

        char next() throws Unreadable {
            if (i >= s.length()) throw new Unreadable("unexpected end of JSON");
            return s.charAt(i++);
        }

        void expect(String word) throws Unreadable {
            if (!s.startsWith(word, i)) throw new Unreadable("bad JSON at offset " + i);
            i += word.length();
        }

        Object value(int depth) throws Unreadable {
            if (depth > 128) throw new Unreadable("JSON nested too deeply");
            ws();
            if (i >= s.length()) throw new Unreadable("unexpected end of JSON");
            char c = s.charAt(i);
            if (c == '{') {
                i++;
                Map<String, Object> m = new LinkedHashMap<>();
                ws();
                if (i < s.length() && s.charAt(i) == '}') { i++; return m; }
                while (true) {
                    ws();
                    if (next() != '"') throw new Unreadable("expected a member name at offset " + (i - 1));
                    String k = string();
                    ws();
                    if (next() != ':') throw new Unreadable("expected ':' at offset " + (i - 1));
                    m.put(k, value(depth + 1)); // a repeated name: the last wins
                    ws();
                    char d = next();
                    if (d == '}') return m;
                    if (d != ',') throw new Unreadable("expected ',' or '}' at offset " + (i - 1));
                }
            }
            if (c == '[') {
                i++;
                List<Object> a = new ArrayList<>();
                ws();
                if (i < s.length() && s.charAt(i) == ']') { i++; return a; }
                while (true) {
                    a.add(value(depth + 1));
                    ws();
                    char d = next();
                    if (d == ']') return a;
                    if (d != ',') throw new Unreadable("expected ',' or ']' at offset " + (i - 1));
                }
            }
            if (c == '"') { i++; return string(); }
            if (c == 't') { expect("true"); return Boolean.TRUE; }
            if (c == 'f') { expect("false"); return Boolean.FALSE; }
            if (c == 'n') { expect("null"); return NULL; }
            int start = i;
            if (i < s.length() && s.charAt(i) == '-') i++;
            if (i < s.length() && s.charAt(i) == '0') i++;
            else if (!digits()) throw new Unreadable("bad JSON at offset " + start);
            if (i < s.length() && s.charAt(i) == '.') { i++; if (!digits()) throw new Unreadable("bad number at offset " + start); }
            if (i < s.length() && (s.charAt(i) == 'e' || s.charAt(i) == 'E')) {
                i++;
                if (i < s.length() && (s.charAt(i) == '+' || s.charAt(i) == '-')) i++;
                if (!digits()) throw new Unreadable("bad number at offset " + start);
            }
            Num n = new Num(s.substring(start, i));
            if (Double.isInfinite(n.dbl())) throw new Unreadable("number out of range: " + n.text());
            return n;
        }

        boolean digits() {
            int start = i;
            while (i < s.length() && s.charAt(i) >= '0' && s.charAt(i) <= '9') i++;
            return i > start;
        }

        String string() throws Unreadable {
            StringBuilder b = new StringBuilder();
            while (true) {
                char c = next();
                if (c == '"') return b.toString();
                if (c < 0x20) throw new Unreadable("a control character in a JSON string");
                if (c != '\\') { b.append(c); continue; }
                char e = next();
                switch (e) {
                    case '"', '\\', '/' -> b.append(e);
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'n' -> b.append('\n');
                    case 'r' -> b.append('\r');
                    case 't' -> b.append('\t');
                    case 'u' -> {
                        char u = hex4();
                        if (Character.isLowSurrogate(u)) throw new Unreadable("a lone surrogate in a JSON string");
                        if (Character.isHighSurrogate(u)) {
                            if (!s.startsWith("\\u", i)) throw new Unreadable("a lone surrogate in a JSON string");
                            i += 2;
                            char low = hex4();
                            if (!Character.isLowSurrogate(low)) throw new Unreadable("a lone surrogate in a JSON string");
                            b.append(u).append(low);
                        } else {
                            b.append(u);
                        }
                    }
                    default -> throw new Unreadable("bad escape in a JSON string");
                }
            }
        }

        char hex4() throws Unreadable {
            if (i + 4 > s.length()) throw new Unreadable("bad \\u escape");
            try {
                char c = (char) Integer.parseInt(s.substring(i, i + 4), 16);
                if (s.substring(i, i + 4).chars().anyMatch(ch -> ch == '+' || ch == '-')) throw new NumberFormatException();
                i += 4;
                return c;
            } catch (NumberFormatException e) {
                throw new Unreadable("bad \\u escape");
            }
        }
    }

    // ------------------------------------------------------------ shapes
    // The Rust verifier reads a bundle with serde: unknown members are ignored,
    // missing ones (but optional ones) and wrong types make the file unreadable.

    @SuppressWarnings("unchecked")
    static Map<String, Object> obj(Object v, String what) throws Unreadable {
        if (!(v instanceof Map)) throw new Unreadable(what + " is not an object");
        return (Map<String, Object>) v;
    }

    static Object field(Object o, String name, String what) throws Unreadable {
        Object v = obj(o, what).get(name);
        if (v == null) throw new Unreadable(what + ": missing `" + name + "`");
        return v;
    }

    /** An optional member: null when absent or JSON null. */
    static Object optional(Object o, String name, String what) throws Unreadable {
        Object v = obj(o, what).get(name);
        return v == NULL ? null : v;
    }

    @SuppressWarnings("unchecked")
    static List<Object> array(Object v, String what) throws Unreadable {
        if (!(v instanceof List)) throw new Unreadable(what + " must be an array");
        return (List<Object>) v;
    }

    static String text(Object v, String what) throws Unreadable {
        if (!(v instanceof String s)) throw new Unreadable(what + " must be a string");
        return s;
    }

    static BigInteger integer(Object v, BigInteger min, BigInteger limit, String what) throws Unreadable {
        if (!(v instanceof Num n) || !n.integral()) throw new Unreadable(what + " must be an integer");
        BigInteger x = new BigInteger(n.text());
        if (x.compareTo(min) < 0 || x.compareTo(limit) >= 0) throw new Unreadable(what + " is out of range");
        return x;
    }

    static BigInteger uint(Object v, int bits, String what) throws Unreadable {
        return integer(v, BigInteger.ZERO, BigInteger.TWO.pow(bits), what);
    }

    /** Hex as the Rust verifier reads it: either case, an optional 0x; null if not hex. */
    static byte[] unhex(String s) {
        if (s.startsWith("0x") || s.startsWith("0X")) s = s.substring(2);
        if (s.length() % 2 != 0) return null;
        byte[] out = new byte[s.length() / 2];
        for (int k = 0; k < out.length; k++) {
            int hi = Character.digit(s.charAt(2 * k), 16), lo = Character.digit(s.charAt(2 * k + 1), 16);
            if (hi < 0 || lo < 0 || s.charAt(2 * k) > 'f' || s.charAt(2 * k + 1) > 'f') return null;
            out[k] = (byte) (hi * 16 + lo);
        }
        return out;
    }

    static byte[] hex(String s) { return unhex(s); }

    static byte[] hexBytes(Object v, int n, String what) throws Unreadable {
        byte[] b = unhex(text(v, what));
        if (b == null || b.length != n) throw new Unreadable(what + " must be " + 2 * n + " hexadecimal characters");
        return b;
    }

    static String toHex(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) s.append(String.format("%02x", x & 0xff));
        return s.toString();
    }

    record Header(String chainId, BigInteger height, BigInteger view, byte[] parent, byte[] txRoot, BigInteger timeMs,
                  BigInteger proposer, BigInteger txCount, BigInteger stateHeight, byte[] stateRoot) {}

    static Header header(Object h, String w) throws Unreadable {
        return new Header(text(field(h, "chain_id", w), w + ".chain_id"), uint(field(h, "height", w), 64, w + ".height"),
            uint(field(h, "view", w), 64, w + ".view"), hexBytes(field(h, "parent", w), 32, w + ".parent"),
            hexBytes(field(h, "tx_root", w), 32, w + ".tx_root"),
            integer(field(h, "time_ms", w), BigInteger.TWO.pow(63).negate(), BigInteger.TWO.pow(63), w + ".time_ms"),
            uint(field(h, "proposer", w), 16, w + ".proposer"), uint(field(h, "tx_count", w), 32, w + ".tx_count"),
            uint(field(h, "state_height", w), 64, w + ".state_height"), hexBytes(field(h, "state_root", w), 32, w + ".state_root"));
    }

    static List<Header> links(Object b) throws Unreadable {
        List<Header> out = new ArrayList<>();
        for (Object h : array(field(b, "links", "proof"), "links")) out.add(header(h, "link"));
        return out;
    }

    record Cert(String kind, BigInteger view, byte[] hash, List<Integer> signers, List<byte[]> sigs) {}

    static Cert certificate(Object f) throws Unreadable {
        String kind = text(field(f, "kind", "finalization"), "finalization.kind");
        if (!Set.of("notarize", "nullify", "finalize").contains(kind)) throw new Unreadable("finalization.kind \"" + kind + "\" is not a vote kind");
        List<Integer> signers = new ArrayList<>();
        List<byte[]> sigs = new ArrayList<>();
        signatures(field(f, "signatures", "finalization"), signers, sigs);
        return new Cert(kind, uint(field(f, "view", "finalization"), 64, "finalization.view"),
            hexBytes(field(f, "hash", "finalization"), 32, "finalization.hash"), signers, sigs);
    }

    static void signatures(Object v, List<Integer> signers, List<byte[]> sigs) throws Unreadable {
        for (Object s : array(v, "signatures")) {
            signers.add(uint(field(s, "signer", "signature"), 16, "signer").intValue());
            sigs.add(hexBytes(field(s, "signature", "signature"), 64, "signature"));
        }
    }

    /** One validator of an epoch change: key, province and name (UTF-8). */
    record Member(byte[] key, byte[] province, byte[] name) {}

    /** An epoch certificate: the change and the signatures of the epoch before. */
    record EpochCert(String chainId, BigInteger epoch, BigInteger lastHeight, byte[] lastHash, BigInteger lastView,
                     List<Member> validators, List<Integer> signers, List<byte[]> sigs) {}

    /** `epochs`: absent means none. */
    static List<EpochCert> epochCertificates(Object b) throws Unreadable {
        List<EpochCert> out = new ArrayList<>();
        if (!obj(b, "proof").containsKey("epochs")) return out;
        for (Object c : array(obj(b, "proof").get("epochs"), "epochs")) {
            Object ch = field(c, "change", "epoch certificate");
            String w = "epochs.change";
            List<Member> members = new ArrayList<>();
            for (Object v : array(field(ch, "validators", w), w + ".validators"))
                members.add(new Member(hexBytes(field(v, "public_key", "validator"), 32, "validator.public_key"),
                    text(field(v, "province", "validator"), "validator.province").getBytes(StandardCharsets.UTF_8),
                    text(field(v, "name", "validator"), "validator.name").getBytes(StandardCharsets.UTF_8)));
            List<Integer> signers = new ArrayList<>();
            List<byte[]> sigs = new ArrayList<>();
            signatures(field(c, "signatures", "epoch certificate"), signers, sigs);
            out.add(new EpochCert(text(field(ch, "chain_id", w), w + ".chain_id"), uint(field(ch, "epoch", w), 64, w + ".epoch"),
                uint(field(ch, "last_height", w), 64, w + ".last_height"), hexBytes(field(ch, "last_hash", w), 32, w + ".last_hash"),
                uint(field(ch, "last_view", w), 64, w + ".last_view"), members, signers, sigs));
        }
        return out;
    }

    /** What a quorum of the epoch before signs (docs/FORMATS.md, "Epoch change"). */
    static byte[] changeBytes(EpochCert e) {
        ByteArrayOutputStream m = new ByteArrayOutputStream();
        byte[] c = e.chainId().getBytes(StandardCharsets.UTF_8);
        m.writeBytes("coldchain-epoch-v1\0".getBytes(StandardCharsets.US_ASCII));
        m.writeBytes(be(BigInteger.valueOf(c.length), 2));
        m.writeBytes(c);
        m.writeBytes(be(e.epoch(), 8));
        m.writeBytes(be(e.lastHeight(), 8));
        m.writeBytes(e.lastHash());
        m.writeBytes(be(e.lastView(), 8));
        m.writeBytes(be(BigInteger.valueOf(e.validators().size()), 2));
        for (Member v : e.validators()) {
            m.writeBytes(v.key());
            for (byte[] t : new byte[][] {v.province(), v.name()}) {
                int n = Math.min(t.length, 255); // longer texts are cut to their first 255 bytes
                m.write(n);
                m.write(t, 0, n);
            }
        }
        return m.toByteArray();
    }

    // ------------------------------------------------------------ RFC 8785

    /** ECMAScript Number::toString of a finite double: the shortest digits that read back as x. */
    static String jsNumber(double x) {
        if (x == 0) return "0";
        if (x < 0) return "-" + jsNumber(-x);
        BigDecimal exact = new BigDecimal(x);
        for (int p = 1; p <= 17; p++) {
            BigDecimal best = null;
            for (RoundingMode mode : new RoundingMode[] {RoundingMode.FLOOR, RoundingMode.CEILING}) {
                BigDecimal c = exact.round(new MathContext(p, mode));
                if (c.doubleValue() != x) continue;
                int cmp = best == null ? -1 : c.subtract(exact).abs().compareTo(best.subtract(exact).abs());
                if (cmp < 0 || (cmp == 0 && c.unscaledValue().testBit(0) == false)) best = c;
            }
            if (best == null) continue;
            best = best.stripTrailingZeros();
            String s = best.unscaledValue().toString();
            int k = s.length(), n = k - best.scale(); // x = 0.s × 10^n
            if (k <= n && n <= 21) return s + "0".repeat(n - k);
            if (0 < n && n <= 21) return s.substring(0, n) + "." + s.substring(n);
            if (-6 < n && n <= 0) return "0." + "0".repeat(-n) + s;
            int e = n - 1;
            return (k == 1 ? s : s.charAt(0) + "." + s.substring(1)) + "e" + (e >= 0 ? "+" : "-") + Math.abs(e);
        }
        throw new IllegalStateException("17 digits always read back");
    }

    static void jcsString(String s, StringBuilder out) {
        out.append('"');
        for (int k = 0; k < s.length(); k++) {
            char c = s.charAt(k);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) out.append(String.format("\\u%04x", (int) c));
                    else out.append(c);
                }
            }
        }
        out.append('"');
    }

    @SuppressWarnings("unchecked")
    static void jcs(Object v, StringBuilder out) {
        if (v == NULL) out.append("null");
        else if (v instanceof Boolean b) out.append(b ? "true" : "false");
        else if (v instanceof Num n) out.append(jsNumber(n.dbl())); // an IEEE double, as RFC 8785 reads every number
        else if (v instanceof String s) jcsString(s, out);
        else if (v instanceof List<?> a) {
            out.append('[');
            for (int k = 0; k < a.size(); k++) { if (k > 0) out.append(','); jcs(a.get(k), out); }
            out.append(']');
        } else {
            Map<String, Object> m = (Map<String, Object>) v;
            List<String> keys = new ArrayList<>(m.keySet());
            Collections.sort(keys); // String order is UTF-16 code unit order
            out.append('{');
            for (int k = 0; k < keys.size(); k++) {
                if (k > 0) out.append(',');
                jcsString(keys.get(k), out);
                out.append(':');
                jcs(m.get(keys.get(k)), out);
            }
            out.append('}');
        }
    }

    /** The canonical bytes of a transaction: its five members, in RFC 8785. */
    static byte[] transactionBytes(Object tx) throws Unreadable {
        String w = "transaction";
        StringBuilder b = new StringBuilder("{\"chain_id\":");
        jcsString(text(field(tx, "chain_id", w), w + ".chain_id"), b);
        b.append(",\"nonce\":").append(uint(field(tx, "nonce", w), 64, w + ".nonce"));
        b.append(",\"record\":");
        jcs(field(tx, "record", w), b);
        Object signer = field(tx, "signer", w);
        String algorithm = text(field(signer, "algorithm", w + ".signer"), w + ".signer.algorithm");
        byte[] publicKey = hexBytes(field(signer, "public_key", w + ".signer"), 32, w + ".signer.public_key");
        b.append(",\"signature\":\"").append(toHex(hexBytes(field(tx, "signature", w), 64, w + ".signature"))).append("\"");
        b.append(",\"signer\":{\"algorithm\":");
        jcsString(algorithm, b);
        b.append(",\"public_key\":\"").append(toHex(publicKey)).append("\"}}");
        return b.toString().getBytes(StandardCharsets.UTF_8);
    }

    // ------------------------------------------------------------ hashing, ed25519

    static byte[] sha256(byte[]... parts) {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            for (byte[] p : parts) d.update(p);
            return d.digest();
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static byte[] be(BigInteger v, int bytes) {
        byte[] out = new byte[bytes];
        byte[] raw = v.toByteArray(); // two's complement, big-endian
        byte fill = (byte) (v.signum() < 0 ? 0xff : 0);
        for (int k = 0; k < bytes; k++) {
            int from = raw.length - bytes + k;
            out[k] = from >= 0 ? raw[from] : fill;
        }
        return out;
    }

    static BigInteger le(byte[] b) {
        byte[] r = new byte[b.length];
        for (int k = 0; k < b.length; k++) r[k] = b[b.length - 1 - k];
        return new BigInteger(1, r);
    }

    /** A canonical encoding (y < p) of a point that is not of small order. */
    static boolean pointOk(byte[] enc) {
        BigInteger y = le(enc).clearBit(255);
        return y.compareTo(P) < 0 && !SMALL_ORDER_Y.contains(y);
    }

    /**
     * What ed25519-dalek takes for a key (VerifyingKey::from_bytes): y, the 255 low bits read
     * little-endian and reduced mod p, is a point's, i.e. (y^2 - 1) / (d y^2 + 1) is a square mod p (zero included).
     */
    static boolean decompresses(byte[] enc) {
        BigInteger y = le(enc).clearBit(255).mod(P), yy = y.multiply(y);
        BigInteger r = yy.subtract(BigInteger.ONE).multiply(D.multiply(yy).add(BigInteger.ONE).modInverse(P)).mod(P);
        return r.signum() == 0 || r.modPow(P.subtract(BigInteger.ONE).shiftRight(1), P).equals(BigInteger.ONE);
    }

    static final byte[] SPKI = hex("302a300506032b6570032100"); // SubjectPublicKeyInfo of an Ed25519 key, before its 32 bytes

    /** ed25519-dalek's verify_strict: s < L, R and A not of small order. */
    static boolean verifyStrict(byte[] raw, byte[] message, byte[] sig) {
        if (le(Arrays.copyOfRange(sig, 32, 64)).compareTo(L) >= 0 || !pointOk(Arrays.copyOfRange(sig, 0, 32)) || !pointOk(raw)) return false;
        try {
            byte[] der = Arrays.copyOf(SPKI, 44);
            System.arraycopy(raw, 0, der, 12, 32);
            PublicKey key = KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(der));
            Signature v = Signature.getInstance("Ed25519");
            v.initVerify(key);
            v.update(message);
            return v.verify(sig);
        } catch (java.security.GeneralSecurityException | RuntimeException e) {
            return false;
        }
    }

    static byte[] headerHash(Header h) {
        byte[] c = h.chainId().getBytes(StandardCharsets.UTF_8);
        return sha256("coldchain-header-v2\0".getBytes(StandardCharsets.US_ASCII), be(BigInteger.valueOf(c.length), 2), c,
            be(h.height(), 8), be(h.view(), 8), h.parent(), h.txRoot(), be(h.timeMs(), 8), be(h.proposer(), 2),
            be(h.txCount(), 4), be(h.stateHeight(), 8), h.stateRoot());
    }

    static boolean merkleOk(byte[] txId, BigInteger index0, BigInteger width0, List<byte[]> path, byte[] root) {
        if (index0.compareTo(width0) >= 0) return false;
        long index = index0.longValueExact(), width = width0.longValueExact();
        byte[] node = sha256(new byte[] {0}, txId);
        int used = 0;
        while (width > 1) {
            if (index % 2 == 1) {
                if (used == path.size()) return false;
                node = sha256(new byte[] {1}, path.get(used++), node);
            } else if (index + 1 < width) {
                if (used == path.size()) return false;
                node = sha256(new byte[] {1}, node, path.get(used++));
            }
            index /= 2;
            width = (width + 1) / 2;
        }
        return used == path.size() && Arrays.equals(node, root);
    }

    static boolean bit(byte[] h, int i) { return ((h[i / 8] >> (7 - i % 8)) & 1) == 1; }

    static String stateEntryProblem(byte[] key, byte[] value, byte[][] leaf, List<byte[]> siblings, byte[] root) {
        int n = siblings.size();
        if (n > 256) return "the proof has " + n + " sibling hashes; a path has at most 256";
        byte[] kh = sha256(key);
        if (value != null) {
            if (leaf == null) return "the proof shows the key absent, but a value was given";
            if (!Arrays.equals(leaf[0], kh)) return "the proof's leaf is for key hash " + toHex(leaf[0]) + ", not this key's " + toHex(kh);
            if (!Arrays.equals(leaf[1], sha256(value))) return "the value's hash " + toHex(sha256(value)) + " is not the proof leaf's " + toHex(leaf[1]);
        } else if (leaf != null) {
            if (Arrays.equals(leaf[0], kh)) return "the proof shows the key present, but absence was claimed";
            for (int i = 0; i < n; i++)
                if (bit(kh, i) != bit(leaf[0], i)) return "the leaf " + toHex(leaf[0]) + " is not alone on the key's path: it does not prove absence";
        }
        byte[] node = leaf != null ? sha256("JMT::LeafNode".getBytes(StandardCharsets.US_ASCII), leaf[0], leaf[1]) : EMPTY;
        byte[] inner = "JMT::IntrnalNode".getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < n; i++)
            node = bit(kh, n - 1 - i) ? sha256(inner, siblings.get(i), node) : sha256(inner, node, siblings.get(i));
        return Arrays.equals(node, root) ? null : "the proof leads to root " + toHex(node) + ", not " + toHex(root);
    }

    // ------------------------------------------------------------ checks

    /** One epoch's validator set: epoch 0 is genesis's; each later one the list of the certificate that started it. */
    record Epoch(BigInteger number, BigInteger afterHeight, BigInteger afterView, List<byte[]> keys) {
        int quorum() { return keys.size() - (keys.size() - 1) / 3; }
    }

    final String chainId;
    final Epoch genesis;

    ColdchainVerify(Object genesisJson) throws Exception {
        chainId = text(field(genesisJson, "chain_id", "genesis"), "genesis.chain_id");
        int len = chainId.getBytes(StandardCharsets.UTF_8).length;
        if (len < 1 || len > 64) throw new Unreadable("genesis: `chain_id` must be 1 to 64 characters");
        List<Object> validators = array(field(genesisJson, "validators", "genesis"), "genesis.validators");
        if (validators.isEmpty() || validators.size() > 64) throw new Unreadable("genesis: 1 to 64 validators");
        List<byte[]> keys = new ArrayList<>();
        for (Object v : validators) {
            byte[] k = unhex(text(field(v, "public_key", "validator"), "public_key"));
            if (k == null || k.length != 32 || !pointOk(k)) throw new Unreadable("genesis: a validator's key is not a valid ed25519 key");
            keys.add(k);
        }
        genesis = new Epoch(BigInteger.ZERO, BigInteger.ZERO, BigInteger.ZERO, keys);
    }

    void checkChain(List<String> chains) throws Invalid {
        for (String c : chains)
            if (!c.equals(chainId)) throw new Invalid("1", "the proof is for chain \"" + c + "\", the genesis file is for \"" + chainId + "\"");
    }

    /** Check 7: from genesis's validators, each epoch change signed by a quorum of the epoch before; the last epoch reached. */
    Epoch walkEpochs(List<EpochCert> epochs) throws Invalid {
        Epoch cur = genesis;
        for (EpochCert e : epochs) {
            BigInteger n = e.epoch();
            if (!e.chainId().equals(chainId)) throw new Invalid("7", "the epoch change is for chain \"" + e.chainId() + "\", not \"" + chainId + "\"");
            if (n.compareTo(cur.number()) <= 0) throw new Invalid("7", "epoch " + n + " does not follow epoch " + cur.number());
            int below = e.lastHeight().compareTo(cur.afterHeight());
            if (below < 0 || (cur.number().signum() > 0 && below == 0 && e.lastView().compareTo(cur.afterView()) < 0))
                throw new Invalid("7", "epoch " + n + " starts after height " + e.lastHeight() + ", below epoch " + cur.number()
                    + "'s start (height " + cur.afterHeight() + ")");
            List<byte[]> keys = new ArrayList<>();
            Set<String> distinct = new HashSet<>();
            boolean points = true;
            for (Member v : e.validators()) {
                keys.add(v.key());
                distinct.add(toHex(v.key()));
                points &= decompresses(v.key());
            }
            if (keys.isEmpty() || keys.size() > 64 || distinct.size() != keys.size() || !points)
                throw new Invalid("7", "epoch " + n + " lists no validators, more than 64, one key twice or a key that is no point");
            byte[] message = changeBytes(e);
            Set<Integer> seen = new HashSet<>();
            for (int k = 0; k < e.signers().size(); k++) {
                int signer = e.signers().get(k);
                if (signer >= cur.keys().size()) throw new Invalid("7", "signer index " + signer + " is not a validator of epoch " + cur.number());
                if (!seen.add(signer)) throw new Invalid("7", "validator " + signer + " signed the epoch change twice");
                if (!verifyStrict(cur.keys().get(signer), message, e.sigs().get(k)))
                    throw new Invalid("7", "the signature of validator " + signer + " of epoch " + cur.number() + " does not verify for this epoch change");
            }
            if (seen.size() < cur.quorum())
                throw new Invalid("7", "only " + seen.size() + " validators of epoch " + cur.number() + " signed the change to epoch " + n
                    + "; its quorum is " + cur.quorum());
            cur = new Epoch(n, e.lastHeight(), e.lastView(), keys);
        }
        return cur;
    }

    /**
     * Check 7, then 4-6: the epochs, header and links, the certificate of the last one by the last epoch's
     * validators (or, without one, the last epoch certificate naming the last header).
     */
    void certified(Header head, List<Header> links, Cert cert, List<EpochCert> epochs) throws Invalid {
        Epoch epoch = walkEpochs(epochs);
        Header tip = head;
        byte[] tipHash = headerHash(head);
        for (Header link : links) {
            if (!Arrays.equals(link.parent(), tipHash) || !link.height().equals(tip.height().add(BigInteger.ONE)))
                throw new Invalid("4", "link at height " + link.height() + " does not extend the block before it");
            tip = link;
            tipHash = headerHash(link);
        }
        if (cert == null) {
            if (epochs.isEmpty()) throw new Invalid("7", "the bundle has neither a finalization nor an epoch certificate");
            EpochCert last = epochs.get(epochs.size() - 1);
            if (!Arrays.equals(last.lastHash(), tipHash) || !last.lastHeight().equals(tip.height()))
                throw new Invalid("7", "epoch " + last.epoch() + " starts after block " + toHex(last.lastHash()) + " at height " + last.lastHeight()
                    + ", but the header chain ends at " + toHex(tipHash) + " (height " + tip.height() + ")");
            return;
        }
        if (epoch.number().signum() > 0 && tip.height().compareTo(epoch.afterHeight()) <= 0)
            throw new Invalid("7", "the certified block (height " + tip.height() + ") is not of epoch " + epoch.number()
                + ", which starts after height " + epoch.afterHeight());
        if (!Arrays.equals(cert.hash(), tipHash) || !cert.view().equals(tip.view()))
            throw new Invalid("5", "the finalization certifies " + toHex(cert.hash()) + " at view " + cert.view()
                + ", but the header chain ends at " + toHex(tipHash) + " (view " + tip.view() + ")");
        if (!cert.kind().equals("finalize")) throw new Invalid("6", "a " + cert.kind() + " certificate, not finalize");
        // Epoch N >= 1 signs its votes under "<chain_id>/epoch-N", epoch 0 under the chain id.
        String namespace = epoch.number().signum() == 0 ? chainId : chainId + "/epoch-" + epoch.number();
        byte[] c = namespace.getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream m = new ByteArrayOutputStream();
        m.writeBytes("coldchain-finalize-v1\0".getBytes(StandardCharsets.US_ASCII));
        m.writeBytes(be(BigInteger.valueOf(c.length), 2));
        m.writeBytes(c);
        m.writeBytes(be(cert.view(), 8));
        m.writeBytes(cert.hash());
        Set<Integer> seen = new HashSet<>();
        for (int k = 0; k < cert.signers().size(); k++) {
            int signer = cert.signers().get(k);
            if (signer >= epoch.keys().size()) throw new Invalid("6", "signer index " + signer + " is not a validator of epoch " + epoch.number());
            if (!seen.add(signer)) throw new Invalid("6", "validator " + signer + " signed the certificate twice");
            if (!verifyStrict(epoch.keys().get(signer), m.toByteArray(), cert.sigs().get(k)))
                throw new Invalid("6", "signature of validator " + signer + " does not verify for this chain, view and hash");
        }
        if (seen.size() < epoch.quorum())
            throw new Invalid("6", "only " + seen.size() + " distinct validators signed; the quorum is " + epoch.quorum());
    }

    void transactionProof(Object b) throws Unreadable, Invalid {
        BigInteger version = uint(field(b, "version", "proof"), 32, "version");
        byte[] txId = hexBytes(field(b, "tx_id", "proof"), 32, "tx_id");
        Object tx = optional(b, "transaction", "proof");
        byte[] txBytes = tx == null ? null : transactionBytes(tx);
        BigInteger index = uint(field(b, "leaf_index", "proof"), 64, "leaf_index");
        List<byte[]> path = new ArrayList<>();
        for (Object p : array(field(b, "merkle_path", "proof"), "merkle_path")) path.add(hexBytes(p, 32, "merkle_path"));
        Header head = header(field(b, "header", "proof"), "header");
        List<Header> links = links(b);
        Object fin = optional(b, "finalization", "proof");
        Cert cert = fin == null ? null : certificate(fin);
        List<EpochCert> epochs = epochCertificates(b);
        if (!version.equals(BigInteger.ONE) && !version.equals(BigInteger.TWO)) throw new Invalid("0", "unsupported proof version " + version);
        if (version.intValue() != (epochs.isEmpty() ? 1 : 2))
            throw new Invalid("0", "proof version " + version + " with " + epochs.size() + " epoch certificates: version 1 carries none, version 2 at least one");
        List<String> chains = new ArrayList<>();
        if (tx != null) chains.add(text(field(tx, "chain_id", "transaction"), "chain_id"));
        chains.add(head.chainId());
        for (Header h : links) chains.add(h.chainId());
        checkChain(chains);
        if (txBytes != null && !Arrays.equals(sha256(txBytes), txId))
            throw new Invalid("2", "its SHA-256 is " + toHex(sha256(txBytes)) + ", the proof claims " + toHex(txId));
        if (!merkleOk(txId, index, head.txCount(), path, head.txRoot()))
            throw new Invalid("3", "leaf " + index + " of " + head.txCount() + " does not lead to the header's tx_root");
        certified(head, links, cert, epochs);
    }

    void stateProof(Object b) throws Unreadable, Invalid {
        BigInteger version = uint(field(b, "version", "proof"), 32, "version");
        List<Object[]> entries = new ArrayList<>();
        for (Object e : array(field(b, "entries", "proof"), "entries")) {
            Object proof = field(e, "proof", "entry");
            Object leafJson = optional(proof, "leaf", "proof");
            byte[][] leaf = leafJson == null ? null
                : new byte[][] {hexBytes(field(leafJson, "key_hash", "leaf"), 32, "key_hash"), hexBytes(field(leafJson, "value_hash", "leaf"), 32, "value_hash")};
            Object value = optional(e, "value", "entry");
            List<byte[]> siblings = new ArrayList<>();
            for (Object s : array(field(proof, "siblings", "proof"), "siblings")) siblings.add(hexBytes(s, 32, "sibling"));
            entries.add(new Object[] {text(field(e, "key", "entry"), "key"), value == null ? null : text(value, "value"), leaf, siblings});
        }
        Header head = header(field(b, "header", "proof"), "header");
        List<Header> links = links(b);
        Cert cert = certificate(field(b, "finalization", "proof")); // never null in a state proof
        List<EpochCert> epochs = epochCertificates(b); // version 1 still, with or without them
        if (!version.equals(BigInteger.ONE)) throw new Invalid("0", "unsupported state proof version " + version);
        List<String> chains = new ArrayList<>(List.of(head.chainId()));
        for (Header h : links) chains.add(h.chainId());
        checkChain(chains);
        if (entries.isEmpty()) throw new Invalid("S", "the proof has no entries");
        for (int i = 0; i < entries.size(); i++) {
            Object[] e = entries.get(i);
            byte[] key = unhex((String) e[0]), value = e[1] == null ? null : unhex((String) e[1]);
            if (key == null || (e[1] != null && value == null))
                throw new Invalid("S", "entry " + i + ": " + (key == null ? "key" : "value") + " is not hexadecimal");
            @SuppressWarnings("unchecked")
            String problem = stateEntryProblem(key, value, (byte[][]) e[2], (List<byte[]>) e[3], head.stateRoot());
            if (problem != null) throw new Invalid("S", "entry " + i + ": " + problem);
        }
        certified(head, links, cert, epochs);
    }

    static Object load(String path) throws Exception {
        var decoder = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
        try {
            return Parser.parse(decoder.decode(ByteBuffer.wrap(Files.readAllBytes(Path.of(path)))).toString());
        } catch (CharacterCodingException e) {
            throw new Unreadable("not UTF-8");
        }
    }

    public static void main(String[] args) {
        if (args.length < 3 || !args[0].equals("--genesis")) {
            System.err.println("usage: java ColdchainVerify.java --genesis GENESIS.json PROOF.json ...");
            System.exit(1);
        }
        ColdchainVerify verifier;
        try {
            verifier = new ColdchainVerify(load(args[1]));
        } catch (Exception e) {
            System.err.println("cannot read genesis " + args[1] + ": " + e.getMessage());
            System.exit(1);
            return;
        }
        boolean unreadable = false, invalid = false;
        for (int k = 2; k < args.length; k++) {
            String path = args[k];
            try {
                Object b = load(path);
                if (b instanceof Map<?, ?> m && m.containsKey("result") && m.containsKey("success")) b = m.get("result"); // the gateway's envelope
                if (b instanceof Map<?, ?> m && "state".equals(m.get("kind"))) verifier.stateProof(b);
                else verifier.transactionProof(b);
                System.out.println(path + " VALID");
            } catch (Invalid e) {
                System.out.println(path + " INVALID check " + e.check + ": " + e.getMessage());
                invalid = true;
            } catch (Exception e) {
                System.out.println(path + " ERROR: " + e.getMessage());
                unreadable = true;
            }
        }
        System.exit(unreadable ? 1 : invalid ? 2 : 0);
    }
}
