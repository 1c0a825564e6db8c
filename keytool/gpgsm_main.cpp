// brokerkey-gpgsm: git's gpg.x509.program. It answers the two requests git makes of gpgsm:
//   --status-fd=N -bsau KEY          content on stdin -> armored detached CMS on stdout
//   --status-fd=N --verify SIG -     content on stdin, status lines on fd N
// KEY is a PKCS#11 URI or a broker key fingerprint (then the PIN file is $BROKERKEY_PIN_FILE).
// A signature is good when it verifies and the broker's ledger says its key was signing at its
// signingTime (the rule allowed-signers gives stock ssh-keygen, in core/ledger).
#include <getopt.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "core/cms.h"
#include "core/config.h"
#include "core/error.h"
#include "core/ledger.h"
#include "core/version.h"
#include "module_client.h"

namespace {

using namespace brokerkey;

constexpr const char* kUsage =
    "Usage: brokerkey-gpgsm --status-fd=N -bsau KEY\n"
    "  or:  brokerkey-gpgsm --status-fd=N --verify SIGNATURE FILE|-\n"
    "  or:  brokerkey-gpgsm --help | --version\n";

constexpr const char* kHelp =
    "\ngit's gpg.x509.program for the broker key: the two requests git makes of gpgsm.\n"
    "Signing reads the content from stdin and writes an armored detached CMS signature\n"
    "(RFC 8419, Ed25519) to stdout, signed through the brokerkey module with the key's\n"
    "certificate (brokerkey cert). KEY is a PKCS#11 URI or the key's 64-hex-digit\n"
    "fingerprint. Verification accepts a signature when it verifies and the broker's ledger\n"
    "says its key was signing at the signature's signingTime. Status lines as gpgsm writes\n"
    "them ([GNUPG:] SIG_CREATED, GOODSIG, BADSIG, ...) go to file descriptor N. The options\n"
    "are gpgsm's, read as gpgsm reads them (long options may be abbreviated).\n\n"
    "Options:\n"
    "  -b, --detach-sign     make a detached signature (the only kind made)\n"
    "  -s, --sign            sign\n"
    "  -a, --armor           armored output (always)\n"
    "  -u, --local-user KEY  the key to sign with\n"
    "  --verify              verify SIGNATURE over FILE (- for stdin)\n"
    "  --status-fd N         write status lines to file descriptor N\n"
    "  --help                print this help\n"
    "  --version             print the version\n\n"
    "Environment:\n"
    "  BROKERKEY_PIN_FILE    the consumer PIN when KEY is a fingerprint, or a URI without\n"
    "                        pin-source\n"
    "  BROKERKEY_CONF        the broker configuration whose ledger verification consults\n"
    "  BROKERKEY_MODULE      the brokerkey module to sign through\n";

// OpenPGP's numbers for EdDSA and SHA-512, which is what gpg's status lines carry.
constexpr const char* kAlgorithms = "22 10 00";

struct Request {
  enum class Mode { none, sign, verify, help, version } mode = Mode::none;
  int status_fd = -1;
  std::string key;  // -u
  std::vector<std::string> files;
};

Request parse_arguments(const std::vector<std::string>& args) {
  Request request;
  bool detach = false, sign = false;
  auto set_mode = [&](Request::Mode mode) {
    if (request.mode != Request::Mode::none && request.mode != mode) throw invalid_input("sign and --verify together");
    request.mode = mode;
  };
  auto status_fd = [&](const std::string& text) {
    char* end = nullptr;
    long fd = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || fd < 0 || fd > 1023) throw invalid_input("--status-fd needs a file descriptor");
    request.status_fd = static_cast<int>(fd);
  };

  // gpgsm's options as its argparse reads them: long options with "=VALUE" or a separate
  // value and unambiguous abbreviations, bundled short options (git writes -bsau KEY).
  enum { kStatusFd = 256, kVerify, kHelpOption, kVersionOption };
  static const option kLongOptions[] = {
      {"status-fd", required_argument, nullptr, kStatusFd},
      {"verify", no_argument, nullptr, kVerify},
      {"detach-sign", no_argument, nullptr, 'b'},
      {"sign", no_argument, nullptr, 's'},
      {"armor", no_argument, nullptr, 'a'},
      {"local-user", required_argument, nullptr, 'u'},
      {"help", no_argument, nullptr, kHelpOption},
      {"version", no_argument, nullptr, kVersionOption},
      {nullptr, 0, nullptr, 0},
  };
  std::string program = "brokerkey-gpgsm";
  std::vector<std::string> storage(args);
  std::vector<char*> argv{program.data()};
  for (auto& word : storage) argv.push_back(word.data());
  argv.push_back(nullptr);
  const int argc = static_cast<int>(argv.size() - 1);
  opterr = 0;
  optind = 0;
  // '-': arguments come back in order as option 1; ':': a missing value returns ':'.
  for (int got; (got = ::getopt_long(argc, argv.data(), "-:bsau:", kLongOptions, nullptr)) != -1;) {
    switch (got) {
      case 1: request.files.emplace_back(optarg); break;
      case kStatusFd: status_fd(optarg); break;
      case kVerify: set_mode(Request::Mode::verify); break;
      case 'b': detach = sign = true; break;
      case 's': sign = true; break;
      case 'a': break;
      case 'u': request.key = optarg; break;
      case kHelpOption: request.mode = Request::Mode::help; return request;
      case kVersionOption: request.mode = Request::Mode::version; return request;
      case ':': throw invalid_input(optopt == kStatusFd ? "--status-fd needs a file descriptor" : "-u needs KEY");
      default: {
        std::string word = argv[static_cast<std::size_t>(optind - 1)];
        if (optopt > 0 && optopt < 256) word = std::string("-") + static_cast<char>(optopt);
        throw invalid_input("unsupported option " + word);
      }
    }
  }
  for (int i = optind; i < argc; ++i) request.files.emplace_back(argv[static_cast<std::size_t>(i)]);
  if (sign) {
    set_mode(Request::Mode::sign);
    if (!detach) throw invalid_input("only detached signatures (-b) are made");
    if (request.key.empty()) throw invalid_input("-u KEY (a PKCS#11 URI or a key fingerprint) is required to sign");
    if (!request.files.empty() && request.files != std::vector<std::string>{"-"}) {
      throw invalid_input("the content to sign is read from stdin");
    }
  }
  if (request.mode == Request::Mode::verify && request.files.size() != 2) {
    throw invalid_input("--verify needs SIGNATURE and CONTENT (- for stdin)");
  }
  if (request.mode == Request::Mode::none) throw invalid_input("nothing to do");
  return request;
}

class StatusChannel {
 public:
  explicit StatusChannel(int fd) : fd_(fd) {}
  void line(const std::string& text) const {
    if (fd_ < 0) return;
    std::cout.flush();
    std::string out = "[GNUPG:] " + text + "\n";
    for (std::size_t done = 0; done < out.size();) {
      ssize_t n = ::write(fd_, out.data() + done, out.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw std::system_error(errno, std::generic_category(), "writing status to fd " + std::to_string(fd_));
      done += static_cast<std::size_t>(n);
    }
  }

 private:
  int fd_;
};

std::string read_content(const std::string& file) {
  if (file == "-") return std::string(std::istreambuf_iterator<char>(std::cin), {});
  return read_text_file(file);
}

KeyUri key_uri_of(const std::string& key) {
  if (key.rfind("pkcs11:", 0) == 0) return parse_key_uri(key);
  if (key.size() != 64 || !hex_decode(key)) {
    throw invalid_input("KEY '" + key + "' is neither a PKCS#11 URI nor a 64-hex-digit broker key fingerprint");
  }
  // The module's CKA_ID is the fingerprint: the key in whichever slot shows it.
  std::string uri = "pkcs11:type=private;id=";
  for (std::size_t i = 0; i < key.size(); i += 2) uri += "%" + key.substr(i, 2);
  return parse_key_uri(uri);
}

Secret pin_for(const KeyUri& uri) {
  if (uri.pin_value || uri.pin_source) return pin_from_uri(uri);
  const char* file = std::getenv("BROKERKEY_PIN_FILE");
  if (!file || !*file) {
    throw invalid_input("no PIN: give the URI a pin-source=file:/path (mode 0600), or set BROKERKEY_PIN_FILE");
  }
  return read_secret_file(file);
}

int sign(const Request& request, const StatusChannel& status) {
  std::string content = read_content("-");
  KeyUri uri = key_uri_of(request.key);
  Secret pin = pin_for(uri);
  UriSigner signer(module_path(uri.module_path), uri, pin);
  auto certificate = signer.certificate();
  if (!certificate) {
    throw not_found("the key " + signer.label() + " has no certificate: issue one with 'brokerkey cert --pin-file FILE'");
  }
  TimePoint signed_at = now();
  status.line(std::string("BEGIN_SIGNING H10"));
  Bytes der = make_detached_cms(*certificate, as_bytes(content), signed_at,
                                [&](ByteView attributes) { return signer.sign(attributes); });
  std::cout << cms_armor(der) << std::flush;
  status.line(std::string("SIG_CREATED D ") + kAlgorithms + " " + std::to_string(signed_at.time_since_epoch().count()) +
              " " + fingerprint_of(signer.public_key()).hex());
  return 0;
}

int verify(const Request& request, const StatusChannel& status) {
  std::string signature_text = read_text_file(request.files[0]);
  std::string content = read_content(request.files[1]);
  status.line("NEWSIG");
  CmsSignature signature;
  try {
    signature = parse_detached_cms(cms_unarmor(signature_text));
  } catch (const Error& e) {
    status.line(std::string("ERRSIG - ") + kAlgorithms + " 0 4");
    std::cerr << "brokerkey-gpgsm: cannot check the signature: " << e.what() << "\n";
    return 2;
  }
  std::string fingerprint = fingerprint_of(signature.key).hex();
  std::string who = fingerprint + " " + signature.subject;
  std::cerr << "brokerkey-gpgsm: Signature made " << format_rfc3339(signature.signing_time) << " by \""
            << signature.subject << "\" with key " << fingerprint << "\n";
  if (auto fault = cms_signature_fault(signature, as_bytes(content))) {
    status.line("BADSIG " + who);
    std::cerr << "brokerkey-gpgsm: BAD signature: " << *fault << "\n";
    return 1;
  }

  LedgerState ledger = Ledger(load_config(locate_config()).ledger).state();
  const KeyRecord* key = ledger.find(fingerprint_of(signature.key));
  if (!key) {
    status.line("ERRSIG " + fingerprint + " " + kAlgorithms + " " +
                std::to_string(signature.signing_time.time_since_epoch().count()) + " 9");
    std::cerr << "brokerkey-gpgsm: the signature verifies, but its key is not a key of this broker's ledger\n";
    return 1;
  }
  auto window = signing_window(*key);
  if (!window) {
    status.line("REVKEYSIG " + who);
    std::cerr << "brokerkey-gpgsm: the key " << key->label << " was revoked (" << key->revoke_reason
              << "): it verifies nothing\n";
    return 1;
  }
  std::string lifetime = format_rfc3339(window->from) + " until " + (window->until ? format_rfc3339(*window->until) : "now");
  if (!window->contains(signature.signing_time)) {
    status.line("EXPKEYSIG " + who);
    std::cerr << "brokerkey-gpgsm: the key " << key->label << " signs only from " << lifetime
              << "; this signature claims " << format_rfc3339(signature.signing_time) << "\n";
    return 1;
  }
  std::string seconds = std::to_string(signature.signing_time.time_since_epoch().count());
  status.line("GOODSIG " + who);
  status.line("VALIDSIG " + fingerprint + " " + format_rfc3339(signature.signing_time).substr(0, 10) + " " + seconds +
              " 0 0 0 " + kAlgorithms + " " + fingerprint);
  status.line("TRUST_FULLY 0 brokerkey-ledger");
  std::cerr << "brokerkey-gpgsm: Good signature from \"" << signature.subject << "\"\n"
            << "brokerkey-gpgsm: broker key " << key->label << ", signing from " << lifetime << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  Request request;
  try {
    request = parse_arguments(args);
  } catch (const std::exception& e) {
    std::cerr << "brokerkey-gpgsm: " << e.what() << "\n" << kUsage;
    return 2;
  }
  if (request.mode == Request::Mode::help) {
    std::cout << kUsage << kHelp;
    return 0;
  }
  if (request.mode == Request::Mode::version) {
    std::cout << "brokerkey-gpgsm " << kVersion << "\n";
    return 0;
  }
  StatusChannel status(request.status_fd);
  try {
    return request.mode == Request::Mode::sign ? sign(request, status) : verify(request, status);
  } catch (const std::exception& e) {
    std::cerr << "brokerkey-gpgsm: " << e.what() << "\n";
    try {
      status.line(request.mode == Request::Mode::sign ? "FAILURE sign 1" : "FAILURE verify 1");
    } catch (const std::exception&) {
      // the status channel itself failed; the message above is all there is
    }
    return 2;
  }
}
