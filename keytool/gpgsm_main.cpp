// brokerkey-gpgsm: git's gpg.x509.program. It answers the two requests git makes of gpgsm:
//   --status-fd=N -bsau KEY          content on stdin -> armored detached CMS on stdout
//   --status-fd=N --verify SIG -     content on stdin, status lines on fd N
// KEY is a PKCS#11 URI or a broker key fingerprint (then the PIN file is $BROKERKEY_PIN_FILE).
// With an agent configured (a client configuration, or git's brokerkey.agent: git_agent.h) it
// signs through brokerkey-agent instead and checks against the agent's view of the ledger; no
// broker file is read and no PIN is needed.
// A signature is good when it verifies and the broker's ledger says its key was signing at its
// signingTime (the rule allowed-signers gives stock ssh-keygen, in core/ledger). The signer it
// names is what the ledger vouches for: the embedded certificate's subject only when a
// cert_issue record holds that certificate for the key, else the key's label. Options are
// gpgsm's own names (parse_arguments); what has no meaning here is refused by name.
#include <getopt.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "core/agent_connection.h"
#include "core/cms.h"
#include "core/config.h"
#include "core/error.h"
#include "core/ledger.h"
#include "core/version.h"
#include "git_agent.h"
#include "module_client.h"

namespace {

using namespace brokerkey;

constexpr const char* kUsage =
    "Usage: brokerkey-gpgsm [--status-fd=N] -bsau KEY [-o FILE]         (sign stdin)\n"
    "  or:  brokerkey-gpgsm [--status-fd=N] --verify SIG FILE|-         (verify)\n"
    "  or:  brokerkey-gpgsm --help | --version\n";

constexpr const char* kHelp =
    "\ngit's gpg.x509.program for the broker key: the two requests git makes of gpgsm.\n"
    "Signing reads the content from stdin and writes a detached CMS signature (RFC 8419,\n"
    "Ed25519; armored with -a, else DER) to stdout or -o FILE, signed through the brokerkey\n"
    "module with the key's certificate (brokerkey cert). KEY is a PKCS#11 URI or the key's\n"
    "64-hex-digit fingerprint. Verification accepts a signature when it verifies and the\n"
    "broker's ledger says its key was signing at the signature's signingTime; the subject shown\n"
    "is the certificate's only when the ledger's cert_issue record holds that certificate.\n"
    "With brokerkey-agent configured (a client configuration, or git's brokerkey.agent), it\n"
    "signs through the agent (KEY must name its current key; no PIN needed) with the\n"
    "certificate from the agent's view, and verifies against the agent's view of the ledger.\n"
    "Status lines as gpgsm writes them ([GNUPG:] SIG_CREATED, GOODSIG, BADSIG, ...) go to file\n"
    "descriptor N. The options are gpgsm's, read as gpgsm reads them (long options may be\n"
    "abbreviated); what has no meaning for the broker key is refused by name.\n\n"
    "Options:\n"
    "  -b, --detach-sign     make a detached signature (the only kind made)\n"
    "  -s, --sign            sign\n"
    "  -a, --armor           armored output\n"
    "  -u, --local-user KEY  the key to sign with\n"
    "  -o, --output FILE     write the signature to FILE (- for stdout)\n"
    "  --verify              verify SIGNATURE over FILE (- for stdin)\n"
    "  --status-fd N         write status lines to file descriptor N\n"
    "  --batch, --no-tty, --yes, -q, --quiet, -v, --verbose   accepted; nothing to change\n"
    "  --help                print this help\n"
    "  --version             print the version\n\n"
    "Environment:\n"
    "  BROKERKEY_PIN_FILE    the consumer PIN when KEY is a fingerprint, or a URI without\n"
    "                        pin-source\n"
    "  BROKERKEY_CONF        the broker configuration whose ledger verification consults;\n"
    "                        a client configuration (brokerkey client-config) makes both\n"
    "                        signing and verification go through brokerkey-agent instead\n"
    "  BROKERKEY_MODULE      the brokerkey module to sign through\n";

// OpenPGP's numbers for EdDSA and SHA-512, which is what gpg's status lines carry.
constexpr const char* kAlgorithms = "22 10 00";

struct Request {
  enum class Mode { none, sign, verify, help, version } mode = Mode::none;
  int status_fd = -1;
  std::string key;  // -u
  bool armor = false;
  std::optional<std::string> output;  // -o
  std::vector<std::string> files;
};

// gpgsm's own option names, read by getopt_long as gpgsm's parser reads them (long options by
// unambiguous prefix, --name=VALUE or --name VALUE, bundled short options -bsau KEY). What has
// no meaning for a broker key is refused by name.
Request parse_arguments(int argc, char** argv) {
  enum : int { kVerify = 256, kStatusFd, kNoOp, kHelpOption, kVersionOption };
  static const option kOptions[] = {
      {"detach-sign", no_argument, nullptr, 'b'}, {"sign", no_argument, nullptr, 's'},
      {"armor", no_argument, nullptr, 'a'},       {"armour", no_argument, nullptr, 'a'},
      {"local-user", required_argument, nullptr, 'u'}, {"output", required_argument, nullptr, 'o'},
      {"verify", no_argument, nullptr, kVerify},  {"status-fd", required_argument, nullptr, kStatusFd},
      {"batch", no_argument, nullptr, kNoOp},     {"no-tty", no_argument, nullptr, kNoOp},
      {"yes", no_argument, nullptr, kNoOp},       {"quiet", no_argument, nullptr, 'q'},
      {"verbose", no_argument, nullptr, 'v'},     {"help", no_argument, nullptr, kHelpOption},
      {"version", no_argument, nullptr, kVersionOption}, {nullptr, 0, nullptr, 0},
  };
  Request request;
  bool detach = false, sign = false, verify = false;
  std::vector<char*> copy(argv, argv + argc);
  copy.push_back(nullptr);
  opterr = 0;
  optind = 1;
  for (int opt; (opt = ::getopt_long(argc, copy.data(), ":bsau:o:qv", kOptions, nullptr)) != -1;) {
    std::string word = copy[static_cast<std::size_t>(optind - 1)] ? copy[static_cast<std::size_t>(optind - 1)] : "";
    switch (opt) {
      case 'b': detach = sign = true; break;
      case 's': sign = true; break;
      case 'a': request.armor = true; break;
      case 'u': request.key = optarg; break;
      case 'o': request.output = optarg; break;
      case kVerify: verify = true; break;
      case kStatusFd: {
        std::string text = optarg;
        char* end = nullptr;
        long fd = std::strtol(text.c_str(), &end, 10);
        if (text.empty() || *end != '\0' || fd < 0 || fd > 1023) throw invalid_input("--status-fd needs a file descriptor");
        request.status_fd = static_cast<int>(fd);
        break;
      }
      case kHelpOption: request.mode = Request::Mode::help; return request;
      case kVersionOption: request.mode = Request::Mode::version; return request;
      case kNoOp: case 'q': case 'v': break;  // brokerkey-gpgsm never prompts; its messages stay as they are
      case ':': throw invalid_input("option " + uri_for_display(word) + " needs a value");
      default:
        throw invalid_input("unsupported option " + uri_for_display(optopt && opt == '?' && word.rfind("--", 0) != 0
                                                                        ? std::string("-") + static_cast<char>(optopt)
                                                                        : word) +
                            " (brokerkey-gpgsm makes and checks detached CMS signatures with the broker key only)");
    }
  }
  for (int i = optind; i < argc; ++i) request.files.emplace_back(copy[static_cast<std::size_t>(i)]);
  if (sign && verify) throw invalid_input("sign and --verify together");
  if (sign) {
    request.mode = Request::Mode::sign;
    if (!detach) throw invalid_input("only detached signatures (-b) are made");
    if (request.key.empty()) throw invalid_input("-u KEY (a PKCS#11 URI or a key fingerprint) is required to sign");
    if (!request.files.empty() && request.files != std::vector<std::string>{"-"}) {
      throw invalid_input("the content to sign is read from stdin");
    }
  } else if (verify) {
    request.mode = Request::Mode::verify;
    if (request.files.size() != 2) throw invalid_input("--verify needs SIGNATURE and CONTENT (- for stdin)");
    if (request.output) throw invalid_input("--output has no meaning for a detached --verify");
  } else {
    throw invalid_input("nothing to do");
  }
  return request;
}

class StatusChannel {
 public:
  explicit StatusChannel(int fd) : fd_(fd) {}
  void line(const std::string& text) const {
    if (fd_ < 0) return;
    // One line each: every free text in it went through status_text.
    if (text.find_first_of("\r\n") != std::string::npos) throw integrity_failed("a status line would hold a line break");
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
  if (is_pkcs11_uri(key)) return parse_key_uri(key);
  if (key.size() != 64 || !hex_decode(key)) {
    throw invalid_input("KEY '" + uri_for_display(key) + "' is neither a PKCS#11 URI nor a 64-hex-digit broker key fingerprint");
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

// Writes the signature where it was asked for, and says so on the status channel.
void write_signature(const Request& request, const StatusChannel& status, const Bytes& der, TimePoint signed_at,
                     const PublicKey& key) {
  // As gpgsm: PEM with --armor (what git asks for), the DER itself without.
  std::string out = request.armor ? cms_armor(der) : std::string(der.begin(), der.end());
  if (request.output && *request.output != "-") {
    replace_file(*request.output, out, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                                           fs::perms::others_read);
  } else {
    std::cout << out << std::flush;
  }
  status.line(std::string("SIG_CREATED D ") + kAlgorithms + " " + std::to_string(signed_at.time_since_epoch().count()) +
              " " + fingerprint_of(key).hex());
}

int sign_through_module(const Request& request, const StatusChannel& status, const std::string& content) {
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
  write_signature(request, status, der, signed_at, signer.public_key());
  return 0;
}

// Through brokerkey-agent (a client configuration, or git's brokerkey.agent): the current key
// and its certificate from the agent's view, the signed attributes signed by SIGN_REQUEST
// (the agent classifies them as the "cms" purpose).
int sign_through_agent(const Request& request, const StatusChannel& status, const std::string& content,
                       const fs::path& socket) {
  AgentConnection agent(socket);
  KeyRecord key = agent_key_named(agent, request.key, true).key;
  if (key.certificates.empty()) {
    throw not_found("the key " + key.label +
                    " has no certificate: the broker's operator issues one with 'brokerkey cert --pin-file FILE'");
  }
  TimePoint signed_at = now();
  status.line(std::string("BEGIN_SIGNING H10"));
  Bytes der = make_detached_cms(key.certificates.back(), as_bytes(content), signed_at,
                                [&](ByteView attributes) { return agent_signature(agent, key.public_key, attributes); });
  write_signature(request, status, der, signed_at, key.public_key);
  return 0;
}

int sign(const Request& request, const StatusChannel& status) {
  std::string content = read_content("-");
  if (auto socket = configured_agent()) return sign_through_agent(request, status, content, *socket);
  return sign_through_module(request, status, content);
}

// The keys and their lifecycle times a signature is checked against: the agent's view of the
// ledger when an agent is configured, else the ledger the broker configuration names.
LedgerState verification_ledger() {
  if (auto socket = configured_agent()) {
    AgentConnection agent(*socket);
    return ask_view(agent).ledger;
  }
  return Ledger(load_config(locate_config()).ledger).state();
}

// A status line's free text as gpg writes a user id there: '%', control bytes and bytes
// outside ASCII as %XX, so nothing in it can end the line or start another.
std::string status_text(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte >= 0x7f || c == '%') {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += c;
    }
  }
  return out;
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
  // Nothing the signer wrote into its certificate is shown until the ledger vouches for it.
  std::string fingerprint = fingerprint_of(signature.key).hex();
  std::string seconds = std::to_string(signature.signing_time.time_since_epoch().count());
  std::cerr << "brokerkey-gpgsm: Signature made " << format_rfc3339(signature.signing_time) << " with key "
            << fingerprint << "\n";
  if (auto fault = cms_signature_fault(signature, as_bytes(content))) {
    status.line("BADSIG " + fingerprint);
    std::cerr << "brokerkey-gpgsm: BAD signature: " << *fault << "\n";
    return 1;
  }

  LedgerState ledger = verification_ledger();
  const KeyRecord* key = ledger.find(fingerprint_of(signature.key));
  if (!key) {
    status.line("ERRSIG " + fingerprint + " " + kAlgorithms + " " + seconds + " 9");
    std::cerr << "brokerkey-gpgsm: the signature verifies, but its key is not a key of this broker's ledger\n";
    return 1;
  }
  // The signer named by what the ledger vouches for: the certificate's subject only when the
  // certificate is one a cert_issue record recorded for this key; else the key's label.
  bool vouched = std::find(key->certificates.begin(), key->certificates.end(), signature.certificate) !=
                 key->certificates.end();
  std::string name = vouched ? signature.subject : key->label;
  std::string who = fingerprint + " " + status_text(name);
  if (!vouched) {
    std::cerr << "brokerkey-gpgsm: the certificate in the signature is not one the ledger recorded for key "
              << key->label << "; its subject is not shown\n";
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
  status.line("GOODSIG " + who);
  status.line("VALIDSIG " + fingerprint + " " + format_rfc3339(signature.signing_time).substr(0, 10) + " " + seconds +
              " 0 0 0 " + kAlgorithms + " " + fingerprint);
  status.line("TRUST_FULLY 0 brokerkey-ledger");
  std::cerr << "brokerkey-gpgsm: Good signature from \"" << status_text(name) << "\"\n"
            << "brokerkey-gpgsm: broker key " << key->label << ", signing from " << lifetime << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Request request;
  try {
    request = parse_arguments(argc, argv);
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
