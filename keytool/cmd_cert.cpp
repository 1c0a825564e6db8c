// brokerkey cert: an X.509 certificate for the current key, signed through the module — self-
// signed, or a CSR for the organisation's CA whose answer is then imported. A certificate
// recorded in the ledger (cert_issue) becomes an object in the key's slot.
#include <iostream>

#include "commands.h"
#include "core/error.h"
#include "core/files.h"
#include "core/text.h"
#include "core/uri.h"
#include "core/x509.h"
#include "module_client.h"

namespace brokerkey {

namespace {

void record(const Broker& broker, const KeyRecord& key, const Bytes& der) {
  CertificateFields fields = parse_certificate(der);
  if (fields.key != key.public_key) {
    throw invalid_input("the certificate is for another key, not the current key " + key.fingerprint.hex());
  }
  broker.ledger.append("cert_issue", {{"fingerprint", key.fingerprint.hex()},
                                      {"label", key.label},
                                      {"not_after", format_rfc3339(fields.not_after)},
                                      {"certificate", base64_encode(der)}});
}

int run_cert(const cli::Args& args) {
  Broker broker = load_broker();
  const KeyRecord key = key_in_role(broker.reading(), "current");  // a copy: the reading is a temporary

  if (auto imported = args.value("import")) {
    auto der = pem_decode(read_text_file(*imported), "CERTIFICATE");
    if (!der) throw invalid_input(*imported + " holds no valid PEM certificate");
    record(broker, key, *der);
    std::cerr << "Imported the certificate for " << key.label << "; it is now an object in slot current.\n";
    return 0;
  }

  if (auto subject = args.value("subject")) {
    if (auto fault = text_fault(*subject)) throw cli::UsageError("--subject " + *fault);
  }
  auto pin_file = args.value("pin-file");
  if (!pin_file) throw cli::UsageError("--pin-file FILE (a consumer PIN, mode 0600) is required to sign");
  Secret pin = read_secret_file(*pin_file);
  KeyUri uri = parse_key_uri(key_uri(broker.config.token_label, key.label, CKO_PRIVATE_KEY));
  UriSigner signer(module_path(args.value("module")), uri, pin);
  if (signer.public_key() != key.public_key) {
    throw integrity_failed("the module's current key is not the ledger's current key");
  }
  CertificateRequest request{args.value_or("subject", "CN=" + key.label), key.public_key, key.created,
                             key.rotation_due + Days(broker.config.rotation.overlap_days)};
  TbsSigner sign = [&](ByteView tbs) { return signer.sign(tbs); };
  if (args.flag("csr")) {
    std::cout << make_certificate_request(request, sign);
    std::cerr << "Send this request to your CA; record its answer with: brokerkey cert --import FILE\n";
    return 0;
  }
  Bytes der = make_self_signed_certificate(request, sign);
  record(broker, key, der);
  std::cout << certificate_pem(der);
  std::cerr << "Issued a self-signed certificate for " << key.label << " (" << request.subject
            << "), valid until " << format_rfc3339(request.not_after)
            << "; it is now an object in slot current.\n";
  return 0;
}

}  // namespace

const Command kCertCommand{
    "cert",
    "issue an X.509 certificate for the current key, or a CSR, or import the CA's answer",
    "--pin-file FILE [--subject 'CN=...,O=...'] [--csr] [--module PATH]\n"
    "  or:  brokerkey cert --import CERT.pem\n\n"
    "Builds a certificate for the current key (subject default CN=<key label>, valid from the\n"
    "key's creation until its rotation is due plus the overlap window, digitalSignature, not a\n"
    "CA) and signs it through the module, logging in with the consumer PIN in FILE. It is\n"
    "recorded in the ledger (cert_issue) and printed as PEM; the module then shows it as a\n"
    "CKO_CERTIFICATE object beside the key. --csr prints a PKCS#10 request for your CA instead;\n"
    "--import records the certificate the CA returned (it must be for the current key).\n",
    {{"pin-file", "subject", "module", "import"}, {"csr"}, 0, 0},
    run_cert,
};

}  // namespace brokerkey
