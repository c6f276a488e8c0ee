package bench;

import io.openepcis.epc.eventhash.EventHashGenerator;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * OpenEPCIS's hash IDs of EPCIS 2.0 JSON-LD documents, timed on one thread.
 *
 * <p>{@code java -cp ... bench.PeerHash WARMUP_LIST TIMED_LIST} reads two files, each naming one
 * document a line. Every document of the first is hashed (the JIT's warm-up, not timed), then the
 * clock runs over the second: file read, parse, hash IDs. Prints one line per timed document, its
 * hash IDs separated by spaces (or {@code ERROR <message>}), then {@code SECONDS <s>}.
 */
public final class PeerHash {
  private PeerHash() {}

  private static String hashes(EventHashGenerator generator, Path file) {
    try {
      byte[] body = Files.readAllBytes(file);
      List<String> ids =
          generator.fromJson(new ByteArrayInputStream(body), "sha-256").subscribe().asStream().toList();
      return String.join(" ", ids);
    } catch (Exception | Error e) {
      return "ERROR " + String.valueOf(e).replace('\n', ' ');
    }
  }

  public static void main(String[] args) throws Exception {
    EventHashGenerator generator = new EventHashGenerator();
    for (String line : Files.readAllLines(Path.of(args[0]))) {
      hashes(generator, Path.of(line));
    }
    List<Path> timed = new ArrayList<>();
    for (String line : Files.readAllLines(Path.of(args[1]))) {
      timed.add(Path.of(line));
    }
    List<String> out = new ArrayList<>(timed.size());
    long start = System.nanoTime();
    for (Path file : timed) {
      out.add(hashes(generator, file));
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    StringBuilder text = new StringBuilder();
    for (String line : out) {
      text.append(line).append('\n');
    }
    text.append("SECONDS ").append(seconds).append('\n');
    System.out.print(text);
    System.out.flush();
    System.exit(0); // Mutiny's worker threads would hold the JVM for their idle minute
  }
}
