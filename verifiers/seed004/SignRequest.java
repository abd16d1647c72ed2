// Submit one bare record to a coldchain node as a seed 004 signed request.
//
// An enterprise system that holds an app id and its secret (issued by its
// bureau, seed 004 §8.1 table 1) signs the request with HMAC-SHA256 and sends
// it to the issuing bureau's gateway (docs/FORMATS.md, "Signed requests").
// JDK 17+, nothing else; the single-file launcher compiles it on the fly:
//
//     java SignRequest.java [--wait] BASE_URL APPID SECRET [RECORD.json]
//
// The record is read from RECORD.json, or from stdin when it is absent or
// "-", and sent byte for byte as read. --wait asks the node to answer once the
// record is finalized (?wait=finalized). Prints the node's JSON answer; exit
// code 0 on a 2xx answer, 1 otherwise.

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

public class SignRequest {
    /** hex(HMAC-SHA256(secret, appid \n timestamp \n nonce \n method \n target \n hex(SHA-256(body)))). */
    static String sign(String secret, String appid, String timestamp, String nonce, String method, String target, byte[] body)
            throws GeneralSecurityException {
        HexFormat hex = HexFormat.of(); // lowercase
        String bodyHash = hex.formatHex(MessageDigest.getInstance("SHA-256").digest(body));
        String stringToSign = String.join("\n", appid, timestamp, nonce, method, target, bodyHash);
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
        return hex.formatHex(mac.doFinal(stringToSign.getBytes(StandardCharsets.UTF_8)));
    }

    public static void main(String[] argv) throws Exception {
        List<String> args = new ArrayList<>(List.of(argv));
        boolean wait = args.remove("--wait");
        if (args.size() != 3 && args.size() != 4) {
            System.err.println("usage: java SignRequest.java [--wait] BASE_URL APPID SECRET [RECORD.json]");
            System.exit(1);
        }
        String baseUrl = args.get(0).replaceAll("/+$", ""), appid = args.get(1), secret = args.get(2);
        byte[] body;
        try {
            body = args.size() == 4 && !args.get(3).equals("-") ? Files.readAllBytes(Path.of(args.get(3))) : System.in.readAllBytes();
        } catch (IOException e) {
            System.err.println("reading the record: " + e);
            System.exit(1);
            return;
        }

        // The signature covers the path and query exactly as sent.
        String target = wait ? "/v1/records?wait=finalized" : "/v1/records";
        String timestamp = Long.toString(System.currentTimeMillis()); // milliseconds since the Unix epoch
        byte[] random = new byte[16];
        new SecureRandom().nextBytes(random);
        String nonce = HexFormat.of().formatHex(random); // 32 of [0-9a-f]: new for every request
        HttpRequest request = HttpRequest.newBuilder(URI.create(baseUrl + target))
                .timeout(Duration.ofSeconds(120))
                .header("content-type", "application/json")
                .header("appid", appid)
                .header("timestamp", timestamp)
                .header("nonce", nonce)
                .header("signature", sign(secret, appid, timestamp, nonce, "POST", target, body))
                .POST(HttpRequest.BodyPublishers.ofByteArray(body))
                .build();
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        HttpResponse<String> response;
        try {
            response = client.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        } catch (IOException e) {
            System.err.println("POST " + baseUrl + target + ": " + e);
            System.exit(1);
            return;
        }
        System.out.println(response.body()); // the node's answer names any problem
        System.exit(response.statusCode() / 100 == 2 ? 0 : 1);
    }
}
