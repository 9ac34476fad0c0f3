// java Truststore.java PEM-BUNDLE OUT: the JDK's cacerts (PKCS#12, no password) holding every
// certificate of the image's CA bundle, as Debian's ca-certificates-java would make it.
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;

public class Truststore {
  public static void main(String[] args) throws Exception {
    KeyStore store = KeyStore.getInstance("PKCS12");
    store.load(null, null);
    int n = 0;
    try (FileInputStream in = new FileInputStream(args[0])) {
      for (Certificate cert : CertificateFactory.getInstance("X.509").generateCertificates(in)) store.setCertificateEntry("ca-" + n++, cert);
    }
    try (FileOutputStream out = new FileOutputStream(args[1])) {
      store.store(out, new char[0]);
    }
    System.out.println(args[1] + ": " + n + " certificates");
  }
}
