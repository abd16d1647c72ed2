// ColdchainClient: submit a record to a coldchain gateway from an enterprise's Java system.
//
// One file, JDK 17 or newer, nothing else. Run it with the single-file launcher,
//
//     java clients/java/ColdchainClient.java submit --gateway URL --key KEYFILE [--wait] RECORD.json
//
// or compile it once and run the class:
//
//     javac -d out clients/java/ColdchainClient.java
//     java -cp out ColdchainClient submit-app --gateway URL --appid ID --secret SECRET [--wait] RECORD.json
//
// `submit` signs the record with the enterprise's ed25519 key file (written by
// `coldchain keygen`, `coldchain testnet` or `coldchain demo`) into a signed
// transaction (docs/FORMATS.md, "Transaction"), exactly as `coldchain submit`
// does: chain id from GET /v1/status, a time-based nonce, the RFC 8785 bytes of
// the transaction without its signature, behind the tag "coldchain-tx-v1\0".
// Base64 images in the seed's image fields are replaced by "sha256:<hex>" of
// their bytes in what is signed, and sent as they are (chaincode/src/images.rs).
//
// `submit-app` is the seed 004 path for an enterprise that holds an app id and
// its secret instead of a key (docs/FORMATS.md, "Signed requests"): the bare
// record, byte for byte as read, with the appid/timestamp/nonce/signature headers.
//
// Both POST to /v1/records (?wait=finalized with --wait), print the node's JSON
// answer on stdout, and exit 0 on a 2xx answer, 1 otherwise; a refusal also
// names the field and the rule on stderr. Usage errors exit 2.

import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.MathContext;
import java.math.RoundingMode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

public class ColdchainClient {
    static final String USAGE = String.join("\n",
            "usage: java ColdchainClient.java submit     --gateway URL --key KEYFILE [--wait] RECORD.json",
            "       java ColdchainClient.java submit-app --gateway URL --appid ID [--secret SECRET] [--wait] RECORD.json",
            "",
            "  submit      sign RECORD.json with an enterprise (or bureau) ed25519 key file and submit it",
            "  submit-app  send RECORD.json as a seed 004 signed request with an app id and its secret",
            "              (or the secret from the environment variable COLDCHAIN_APP_SECRET)",
            "  --wait      answer once the record is finalized (?wait=finalized)",
            "",
            "Prints the node's JSON answer; exit 0 on a 2xx answer, 1 otherwise, 2 on a usage error.");

    static final HexFormat HEX = HexFormat.of(); // lowercase
    static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();

    /** A problem this client found before or while talking to the node: printed, exit 1. */
    static class Failure extends Exception {
        private static final long serialVersionUID = 1L;
        Failure(String message) { super(message); }
    }

    public static void main(String[] argv) {
        try {
            System.exit(run(argv));
        } catch (Failure e) {
            System.err.println("coldchain client: " + e.getMessage());
            System.exit(1);
        }
    }

    static int run(String[] argv) throws Failure {
        if (argv.length == 0 || !(argv[0].equals("submit") || argv[0].equals("submit-app"))) return usage(argv.length == 0 ? null : "unknown command " + argv[0]);
        Map<String, String> opts = new LinkedHashMap<>();
        List<String> files = new ArrayList<>();
        boolean wait = false;
        for (int i = 1; i < argv.length; i++) {
            String a = argv[i];
            if (a.equals("--wait")) wait = true;
            else if (Set.of("--gateway", "--key", "--appid", "--secret").contains(a) && i + 1 < argv.length) opts.put(a, argv[++i]);
            else if (a.startsWith("--")) return usage("unknown option or missing value: " + a);
            else files.add(a);
        }
        if (files.size() != 1 || !opts.containsKey("--gateway")) return usage("need --gateway and one RECORD.json");
        String gateway = opts.get("--gateway").replaceAll("/+$", "");
        String target = wait ? "/v1/records?wait=finalized" : "/v1/records";
        byte[] recordBytes;
        try {
            recordBytes = Files.readAllBytes(Path.of(files.get(0)));
        } catch (IOException e) {
            throw new Failure("reading " + files.get(0) + ": " + e);
        }
        if (argv[0].equals("submit")) {
            if (!opts.containsKey("--key")) return usage("submit needs --key KEYFILE");
            return submit(gateway, target, Path.of(opts.get("--key")), recordBytes, files.get(0));
        }
        String secret = opts.getOrDefault("--secret", System.getenv("COLDCHAIN_APP_SECRET"));
        if (!opts.containsKey("--appid") || secret == null) return usage("submit-app needs --appid ID and --secret SECRET (or COLDCHAIN_APP_SECRET)");
        return submitApp(gateway, target, opts.get("--appid"), secret, recordBytes);
    }

    static int usage(String problem) {
        if (problem != null) System.err.println("coldchain client: " + problem);
        System.err.println(USAGE);
        return 2;
    }

    // ------------------------------------------------------------ submit: a signed transaction

    static int submit(String gateway, String target, Path keyFile, byte[] recordBytes, String recordName) throws Failure {
        EnterpriseKey key = EnterpriseKey.read(keyFile);
        Object record = Json.parse(new String(recordBytes, StandardCharsets.UTF_8), recordName);
        if (!(record instanceof Map<?, ?> r) || !(r.get("type") instanceof String)) throw new Failure(recordName + ": a record is a JSON object with a \"type\"");

        // What is signed carries each Base64 image as its digest; what is sent carries the image.
        Object signedForm = Images.replace(Json.copy(record), "record");
        Map<String, Object> signer = new TreeMap<>(Map.of("algorithm", "ed25519", "public_key", HEX.formatHex(key.publicKey)));
        Map<String, Object> tx = new TreeMap<>(); // RFC 8785 order: chain_id, nonce, record, signature, signer
        tx.put("chain_id", chainId(gateway));
        tx.put("nonce", new Json.Num(Long.toString(freshNonce())));
        tx.put("record", signedForm);
        tx.put("signer", signer);
        byte[] signedBytes = concat("coldchain-tx-v1\0".getBytes(StandardCharsets.US_ASCII), Json.canonical(tx).getBytes(StandardCharsets.UTF_8));
        tx.put("signature", HEX.formatHex(key.sign(signedBytes)));
        tx.put("record", record);
        HttpRequest request = HttpRequest.newBuilder(URI.create(gateway + target))
                .timeout(Duration.ofSeconds(120))
                .header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(Json.canonical(tx), StandardCharsets.UTF_8))
                .build();
        return answer(send(request));
    }

    /** The chain id the node serves (GET /v1/status, result.chain_id). */
    static String chainId(String gateway) throws Failure {
        HttpResponse<String> status = send(HttpRequest.newBuilder(URI.create(gateway + "/v1/status")).timeout(Duration.ofSeconds(30)).GET().build());
        Object id = status.statusCode() == 200 ? Json.at(Json.parse(status.body(), "/v1/status"), "result", "chain_id") : null;
        if (!(id instanceof String s)) throw new Failure("GET " + gateway + "/v1/status answered " + status.statusCode() + " without a chain_id: " + status.body());
        return s;
    }

    /**
     * As `coldchain submit` (node/src/crypto.rs, fresh_nonce): milliseconds since the epoch
     * (mod 2^42) × 1000 plus 0…999, so one key's submissions do not repeat; at most 2^53 − 1.
     */
    static long freshNonce() {
        long ms = System.currentTimeMillis() % (1L << 42);
        return (ms * 1000 + new SecureRandom().nextInt(1000)) & ((1L << 53) - 1);
    }

    /** An ed25519 key file: {"algorithm": "ed25519", "public_key": 64 hex, "secret_key": 64 hex (the seed)}. */
    record EnterpriseKey(PrivateKey secret, byte[] publicKey) {
        // DER headers that make JDK keys of raw ed25519 bytes (RFC 8410): PKCS#8 for the seed, X.509 for the public key.
        static final byte[] PKCS8 = HEX.parseHex("302e020100300506032b657004220420");
        static final byte[] X509 = HEX.parseHex("302a300506032b6570032100");

        static EnterpriseKey read(Path path) throws Failure {
            String text;
            try {
                // Like `coldchain`, refuse a secret key that group or others may read or write.
                PosixFileAttributeView posix = Files.getFileAttributeView(path, PosixFileAttributeView.class);
                if (posix != null) {
                    Set<PosixFilePermission> perms = posix.readAttributes().permissions();
                    if (perms.stream().anyMatch(p -> p.name().startsWith("GROUP") || p.name().startsWith("OTHERS")))
                        throw new Failure(path + ": group and others may read or write it; a secret key is for its owner only (chmod 600 " + path + ")");
                }
                text = Files.readString(path);
            } catch (IOException e) {
                throw new Failure("reading the key file " + path + ": " + e);
            }
            Object file = Json.parse(text, path.toString());
            if (!"ed25519".equals(Json.at(file, "algorithm"))) throw new Failure(path + ": `algorithm` must be \"ed25519\"");
            byte[] seed = hex32(Json.at(file, "secret_key"), path + ": `secret_key`");
            byte[] pub = hex32(Json.at(file, "public_key"), path + ": `public_key`");
            try {
                KeyFactory kf = KeyFactory.getInstance("Ed25519");
                EnterpriseKey key = new EnterpriseKey(kf.generatePrivate(new PKCS8EncodedKeySpec(concat(PKCS8, seed))), pub);
                // The file's public key must be the seed's: a signature under one must verify under the other.
                PublicKey declared = kf.generatePublic(new X509EncodedKeySpec(concat(X509, pub)));
                byte[] probe = "coldchain-client key check".getBytes(StandardCharsets.US_ASCII);
                Signature v = Signature.getInstance("Ed25519");
                v.initVerify(declared);
                v.update(probe);
                if (!v.verify(key.sign(probe))) throw new Failure(path + ": `public_key` does not match `secret_key`");
                return key;
            } catch (GeneralSecurityException e) {
                throw new Failure(path + ": not a usable ed25519 key (" + e.getMessage() + ")");
            }
        }

        static byte[] hex32(Object v, String what) throws Failure {
            if (v instanceof String s && s.matches("[0-9a-fA-F]{64}")) return HEX.parseHex(s);
            throw new Failure(what + " must be 64 hex characters");
        }

        byte[] sign(byte[] message) throws Failure {
            try {
                Signature s = Signature.getInstance("Ed25519"); // RFC 8032, deterministic
                s.initSign(secret);
                s.update(message);
                return s.sign();
            } catch (GeneralSecurityException e) {
                throw new Failure("signing: " + e);
            }
        }
    }

    /** Base64 images out of what is signed (chaincode/src/images.rs): the chain keeps their SHA-256. */
    static final class Images {
        static final Set<String> FIELDS =
                Set.of("entimg", "productlabel", "productimg", "quarantineimg", "consumerimg", "disinfectimg", "naimg", "certificateimg", "licenceimg");

        /** Replaces, at any depth, each image field's Base64 text by "sha256:<hex>" of its bytes. */
        @SuppressWarnings("unchecked")
        static Object replace(Object v, String path) throws Failure {
            if (v instanceof Map<?, ?> m) {
                for (Map.Entry<String, Object> e : ((Map<String, Object>) m).entrySet()) {
                    String p = path + "." + e.getKey();
                    boolean image = FIELDS.contains(e.getKey().replace("_", "").toLowerCase(Locale.ROOT));
                    if (!image) replace(e.getValue(), p);
                    else if (e.getValue() instanceof String s && !s.isEmpty() && !s.matches("sha256:[0-9a-fA-F]{64}")) e.setValue("sha256:" + HEX.formatHex(sha256(decode(s, p))));
                }
            } else if (v instanceof List<?> a) {
                for (int i = 0; i < a.size(); i++) replace(a.get(i), path + "[" + i + "]");
            }
            return v;
        }

        /** `data:image/jpeg;base64,…` or bare Base64 (standard alphabet), ASCII whitespace ignored. */
        static byte[] decode(String s, String field) throws Failure {
            String body = s;
            if (s.startsWith("data:")) {
                int comma = s.indexOf(',');
                if (comma < 0 || !s.substring(0, comma).toLowerCase(Locale.ROOT).endsWith(";base64"))
                    throw new Failure("field `" + field + "`: a data URI image must be ;base64 encoded, with a ',' before the Base64 text");
                body = s.substring(comma + 1);
            }
            try {
                return Base64.getDecoder().decode(body.replaceAll("[ \t\n\f\r]", ""));
            } catch (IllegalArgumentException e) {
                throw new Failure("field `" + field + "`: is not valid Base64 (RFC 3548): " + e.getMessage());
            }
        }
    }

    // ------------------------------------------------------------ submit-app: a seed 004 signed request

    static int submitApp(String gateway, String target, String appid, String secret, byte[] body) throws Failure {
        String timestamp = Long.toString(System.currentTimeMillis()); // milliseconds since the Unix epoch
        byte[] random = new byte[16];
        new SecureRandom().nextBytes(random);
        String nonce = HEX.formatHex(random); // new for every request
        HttpRequest request = HttpRequest.newBuilder(URI.create(gateway + target))
                .timeout(Duration.ofSeconds(120))
                .header("content-type", "application/json")
                .header("appid", appid)
                .header("timestamp", timestamp)
                .header("nonce", nonce)
                .header("signature", signRequest(secret, appid, timestamp, nonce, "POST", target, body))
                .POST(HttpRequest.BodyPublishers.ofByteArray(body))
                .build();
        return answer(send(request));
    }

    /** hex(HMAC-SHA256(secret, appid \n timestamp \n nonce \n method \n target \n hex(SHA-256(body)))), as verifiers/seed004/SignRequest.java. */
    static String signRequest(String secret, String appid, String timestamp, String nonce, String method, String target, byte[] body) throws Failure {
        try {
            String stringToSign = String.join("\n", appid, timestamp, nonce, method, target, HEX.formatHex(sha256(body)));
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            return HEX.formatHex(mac.doFinal(stringToSign.getBytes(StandardCharsets.UTF_8)));
        } catch (GeneralSecurityException e) {
            throw new Failure("signing the request: " + e);
        }
    }

    // ------------------------------------------------------------ HTTP and the answer

    static HttpResponse<String> send(HttpRequest request) throws Failure {
        try {
            return HTTP.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new Failure(request.method() + " " + request.uri() + ": " + e);
        } catch (InterruptedException e) {
            throw new Failure("interrupted");
        }
    }

    /**
     * Prints the node's envelope {"success", "code", "message", "timestamp", "result"}; on a
     * refusal also the field and rule it names. Exit code: 0 on 2xx, 1 otherwise.
     */
    static int answer(HttpResponse<String> response) {
        System.out.println(response.body().strip());
        int code = response.statusCode();
        Object envelope;
        try {
            envelope = Json.parse(response.body(), "the answer");
        } catch (Failure e) {
            envelope = null;
        }
        if (code / 100 == 2) {
            Object height = Json.at(envelope, "result", "height");
            System.err.println("tx_id " + Json.at(envelope, "result", "tx_id") + ": " + (height != null ? "finalized at height " + height : Json.at(envelope, "result", "state")));
            return 0;
        }
        Object field = Json.at(envelope, "result", "field"), rule = Json.at(envelope, "result", "rule");
        System.err.println("refused (HTTP " + code + ", " + Json.at(envelope, "result", "error") + "): "
                + (field != null ? "field `" + field + "`: " + rule : Json.at(envelope, "message")));
        return 1;
    }

    static byte[] sha256(byte[] bytes) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(bytes);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e); // every JDK has SHA-256
        }
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] out = new byte[a.length + b.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    // ------------------------------------------------------------ JSON and RFC 8785

    /**
     * Just enough JSON: objects are Maps, arrays Lists, numbers {@link Num} (their text),
     * null {@link #NULL}. A repeated member name is refused, as the gateway refuses it.
     * {@link #canonical} writes RFC 8785 (JCS): members sorted by UTF-16 code units, no
     * whitespace, numbers as ECMAScript prints the IEEE double, minimal string escapes.
     */
    static final class Json {
        static final Object NULL = new Object();

        /**
         * A number, read as the nearest IEEE double (as RFC 8785 reads it). `coldchain submit`
         * (serde_json without its float_roundtrip feature) may read a number of more than 15
         * significant digits, or with a power of ten beyond ±22, one unit in the last place
         * apart: such a record is signed and identified differently by the two tools (each is
         * accepted; the node keeps what was signed). Prices, weights and counts are far inside.
         */
        record Num(String text) {
            @Override
            public String toString() { return text; }

            double value() {
                boolean integral = text.indexOf('.') < 0 && text.indexOf('e') < 0 && text.indexOf('E') < 0;
                return integral ? new BigInteger(text).doubleValue() : Double.parseDouble(text); // both correctly rounded
            }
        }

        /** The value at a path of member names, or null. */
        static Object at(Object v, String... names) {
            for (String n : names) v = v instanceof Map<?, ?> m ? m.get(n) : null;
            return v;
        }

        @SuppressWarnings("unchecked")
        static Object copy(Object v) {
            if (v instanceof Map<?, ?> m) {
                Map<String, Object> out = new LinkedHashMap<>();
                for (Map.Entry<String, Object> e : ((Map<String, Object>) m).entrySet()) out.put(e.getKey(), copy(e.getValue()));
                return out;
            }
            if (v instanceof List<?> a) {
                List<Object> out = new ArrayList<>();
                for (Object x : a) out.add(copy(x));
                return out;
            }
            return v;
        }

        static Object parse(String text, String what) throws Failure {
            Json p = new Json(text, what);
            Object v = p.value(0);
            p.ws();
            if (p.i != text.length()) throw p.error("trailing characters after the JSON value");
            return v;
        }

        final String s;
        final String what;
        int i;

        Json(String s, String what) {
            this.s = s.startsWith("\uFEFF") ? s.substring(1) : s;
            this.what = what;
        }

        Failure error(String problem) { return new Failure(what + ": " + problem + " (offset " + i + ")"); }

        void ws() { while (i < s.length() && " \t\r\n".indexOf(s.charAt(i)) >= 0) i++; }

        char next() throws Failure {
            if (i >= s.length()) throw error("unexpected end of JSON");
            return s.charAt(i++);
        }

        Object value(int depth) throws Failure {
            if (depth > 128) throw error("JSON nested too deeply");
            ws();
            char c = next();
            if (c == '{') {
                Map<String, Object> m = new LinkedHashMap<>();
                ws();
                if (i < s.length() && s.charAt(i) == '}') { i++; return m; }
                while (true) {
                    ws();
                    if (next() != '"') throw error("expected a member name");
                    String k = string();
                    ws();
                    if (next() != ':') throw error("expected ':'");
                    if (m.put(k, value(depth + 1)) != null) throw error("the member \"" + k + "\" is repeated");
                    ws();
                    char d = next();
                    if (d == '}') return m;
                    if (d != ',') throw error("expected ',' or '}'");
                }
            }
            if (c == '[') {
                List<Object> a = new ArrayList<>();
                ws();
                if (i < s.length() && s.charAt(i) == ']') { i++; return a; }
                while (true) {
                    a.add(value(depth + 1));
                    ws();
                    char d = next();
                    if (d == ']') return a;
                    if (d != ',') throw error("expected ',' or ']'");
                }
            }
            if (c == '"') return string();
            i--;
            for (String word : new String[] {"true", "false", "null"}) {
                if (s.startsWith(word, i)) {
                    i += word.length();
                    return word.equals("null") ? NULL : Boolean.valueOf(word.equals("true"));
                }
            }
            int start = i;
            if (i < s.length() && s.charAt(i) == '-') i++;
            if (i < s.length() && s.charAt(i) == '0') i++;
            else if (!digits()) throw error("bad JSON");
            if (i < s.length() && s.charAt(i) == '.') { i++; if (!digits()) throw error("bad number"); }
            if (i < s.length() && (s.charAt(i) == 'e' || s.charAt(i) == 'E')) {
                i++;
                if (i < s.length() && (s.charAt(i) == '+' || s.charAt(i) == '-')) i++;
                if (!digits()) throw error("bad number");
            }
            Num n = new Num(s.substring(start, i));
            if (Double.isInfinite(n.value())) throw error("the number " + n.text() + " is beyond an IEEE double");
            return n;
        }

        boolean digits() {
            int start = i;
            while (i < s.length() && s.charAt(i) >= '0' && s.charAt(i) <= '9') i++;
            return i > start;
        }

        String string() throws Failure {
            StringBuilder b = new StringBuilder();
            while (true) {
                char c = next();
                if (c == '"') return b.toString();
                if (c < 0x20) throw error("a control character in a JSON string");
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
                        if (i + 4 > s.length() || !s.substring(i, i + 4).matches("[0-9a-fA-F]{4}")) throw error("bad \\u escape");
                        b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                        i += 4;
                    }
                    default -> throw error("bad escape in a JSON string");
                }
                // A \\u escape of half a surrogate pair needs its other half (serde_json refuses a lone one).
                char last = b.charAt(b.length() - 1);
                if (Character.isLowSurrogate(last) && (b.length() < 2 || !Character.isHighSurrogate(b.charAt(b.length() - 2)))) throw error("a lone surrogate");
                if (Character.isHighSurrogate(last) && !s.startsWith("\\u", i)) throw error("a lone surrogate");
            }
        }

        static String canonical(Object v) {
            StringBuilder out = new StringBuilder();
            write(v, out);
            return out.toString();
        }

        @SuppressWarnings("unchecked")
        static void write(Object v, StringBuilder out) {
            if (v == NULL) out.append("null");
            else if (v instanceof Boolean b) out.append(b);
            else if (v instanceof Num n) out.append(number(n.value()));
            else if (v instanceof String s) string(s, out);
            else if (v instanceof List<?> a) {
                out.append('[');
                for (int k = 0; k < a.size(); k++) {
                    if (k > 0) out.append(',');
                    write(a.get(k), out);
                }
                out.append(']');
            } else {
                Map<String, Object> sorted = new TreeMap<>((Map<String, Object>) v); // String order is UTF-16 code unit order
                out.append('{');
                boolean first = true;
                for (Map.Entry<String, Object> e : sorted.entrySet()) {
                    if (!first) out.append(',');
                    first = false;
                    string(e.getKey(), out);
                    out.append(':');
                    write(e.getValue(), out);
                }
                out.append('}');
            }
        }

        static void string(String s, StringBuilder out) {
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
                    default -> out.append(c < 0x20 ? String.format("\\u%04x", (int) c) : String.valueOf(c));
                }
            }
            out.append('"');
        }

        /**
         * ECMAScript Number::toString of a finite double: the fewest digits that read back as x
         * (JDK 17's Double.toString does not always give the fewest).
         */
        static String number(double x) {
            if (x == 0) return "0";
            if (x < 0) return "-" + number(-x);
            BigDecimal exact = new BigDecimal(x);
            for (int p = 1; p <= 17; p++) {
                BigDecimal best = null;
                for (RoundingMode mode : new RoundingMode[] {RoundingMode.FLOOR, RoundingMode.CEILING}) {
                    BigDecimal c = exact.round(new MathContext(p, mode));
                    if (c.doubleValue() != x) continue;
                    int cmp = best == null ? -1 : c.subtract(exact).abs().compareTo(best.subtract(exact).abs());
                    if (cmp < 0 || (cmp == 0 && !c.unscaledValue().testBit(0))) best = c;
                }
                if (best == null) continue;
                best = best.stripTrailingZeros();
                String d = best.unscaledValue().toString();
                int k = d.length(), n = k - best.scale(); // x = 0.d × 10^n
                if (k <= n && n <= 21) return d + "0".repeat(n - k);
                if (0 < n && n <= 21) return d.substring(0, n) + "." + d.substring(n);
                if (-6 < n && n <= 0) return "0." + "0".repeat(-n) + d;
                int e = n - 1;
                return (k == 1 ? d : d.charAt(0) + "." + d.substring(1)) + "e" + (e >= 0 ? "+" : "-") + Math.abs(e);
            }
            throw new IllegalStateException("17 digits always read back");
        }
    }
}
