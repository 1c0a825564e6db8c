#include "git_agent.h"

#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <cerrno>
#include <cstdio>
#include <fstream>

#include "core/config.h"
#include "core/ed25519.h"
#include "core/error.h"
#include "module_client.h"

namespace brokerkey {

std::optional<std::string> git_configured_agent() {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return std::nullopt;
  pid_t child = ::fork();
  if (child < 0) {
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    return std::nullopt;
  }
  if (child == 0) {
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    execlp("git", "git", "config", "--get", kGitAgentKey, static_cast<char*>(nullptr));
    _exit(127);
  }
  ::close(pipe_fds[1]);
  std::string value;
  char buffer[512];
  for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (value.size() < 4096) value.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  if (!value.empty() && value.back() == '\n') value.pop_back();
  if (value.empty() || value.front() != '/' || value.size() >= 108 ||
      value.find_first_of(std::string("\n\0", 2)) != std::string::npos) {
    return std::nullopt;
  }
  return value;
}

}  // namespace brokerkey

namespace brokerkey {

std::optional<fs::path> client_config_agent() {
  std::optional<fs::path> located = find_config();
  std::error_code ec;
  if (!located || !fs::exists(*located, ec)) return std::nullopt;  // none: embedded, as the module finds it
  Config config = load_config(*located);
  if (config.mode != ConfigMode::client) return std::nullopt;
  return config.agent.socket;
}

std::optional<fs::path> configured_agent() {
  if (auto socket = client_config_agent()) return socket;
  if (auto agent = git_configured_agent()) return fs::path(*agent);
  return std::nullopt;
}

namespace {

const std::string kUnmappedHint = std::string(" ") + kUnmappedAccountHint;

}  // namespace

std::string ask_agent(AgentConnection& agent, std::string_view extension) {
  std::optional<std::string> answer;
  try {
    answer = agent.text_extension(extension);
  } catch (const AgentConnectionLost& e) {
    throw with_likely_cause(e);
  }
  if (!answer) {
    throw agent_unavailable("the agent at " + agent.socket().string() + " refuses " + std::string(extension) +
                            kUnmappedHint);
  }
  return *answer;
}

std::vector<agent::Identity> ask_identities(AgentConnection& agent) {
  std::optional<std::vector<agent::Identity>> identities;
  try {
    identities = agent.identities();
  } catch (const AgentConnectionLost& e) {
    throw with_likely_cause(e);
  }
  if (!identities) {
    throw agent_unavailable("the agent at " + agent.socket().string() + " refuses to list its key to this account" +
                            kUnmappedHint);
  }
  return *identities;
}

BrokerView ask_view(AgentConnection& agent) { return parse_broker_view(ask_agent(agent, agent::kViewExtension)); }

std::optional<std::string> key_file_text(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text(4096, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

std::optional<PublicKey> ed25519_public_key_file(const std::string& path) {
  std::optional<std::string> text = key_file_text(path);
  if (!text) return std::nullopt;
  return ed25519_from_public_key_line(*text);
}

std::optional<PublicKey> ed25519_from_public_key_line(std::string_view line) {
  if (line.rfind("ssh-ed25519 ", 0) != 0 || line.find_first_of("\r\n") != std::string_view::npos) return std::nullopt;
  std::size_t end = line.find(' ', 12);
  std::optional<Bytes> blob = base64_decode(line.substr(12, end == std::string_view::npos ? std::string_view::npos : end - 12));
  if (!blob) return std::nullopt;
  return ed25519_from_ssh_blob(*blob);
}

std::optional<PublicKey> ed25519_from_ssh_blob(ByteView blob) {
  try {
    agent::WireReader reader(blob);
    if (reader.text() != "ssh-ed25519") return std::nullopt;
    ByteView raw = reader.string();
    reader.expect_end("public key");
    PublicKey key;
    if (raw.size() != key.raw.size()) return std::nullopt;
    std::copy(raw.begin(), raw.end(), key.raw.begin());
    return key;
  } catch (const agent::MalformedMessage&) {
    return std::nullopt;
  }
}

Signature agent_signature(AgentConnection& agent, const PublicKey& key, ByteView data) {
  std::optional<Bytes> signature;
  try {
    signature = agent.sign(ssh_wire_blob(key), data);
  } catch (const AgentConnectionLost& e) {
    throw with_likely_cause(e);
  }
  if (!signature) {
    throw action_prohibited("brokerkey-agent at " + agent.socket().string() +
                            " refused the signature (its log says why: a purpose not granted to this account, the "
                            "rate, or the key is no longer current)");
  }
  Signature out{};
  if (signature->size() != out.size() || !ed25519_verify(key, data, *signature)) {
    throw agent_unavailable("the agent at " + agent.socket().string() + " answered with no valid signature by its key");
  }
  std::copy(signature->begin(), signature->end(), out.begin());
  return out;
}

AgentKey agent_key_named(AgentConnection& agent, std::string_view key_text, bool signing) {
  std::optional<KeyUri> uri;
  if (is_pkcs11_uri(key_text)) {
    uri = parse_key_uri(key_text);
    login_with_uri_pin(agent, *uri);
  } else if (key_text.size() != 64 || !hex_decode(key_text)) {
    throw invalid_input("KEY '" + uri_for_display(key_text) +
                        "' is neither a PKCS#11 URI nor a 64-hex-digit broker key fingerprint");
  }
  AgentKey found{ask_view(agent), {}};
  const BrokerView& view = found.view;
  const KeyRecord* current = view.current_key();
  if (!current) throw not_found("brokerkey-agent at " + agent.socket().string() + " shows no current key");
  auto other = [&](const std::string& why) {
    return invalid_input("KEY " + uri_for_display(key_text) + " " + why + "; brokerkey-agent at " +
                         agent.socket().string() + " shows its current key " + current->label + " " +
                         current->fingerprint.hex() + " only");
  };
  std::string fingerprint = current->fingerprint.hex();
  found.key = *current;
  if (!uri) {
    if (key_text != fingerprint) throw other("names another key");
    return found;
  }
  if (uri->unrecognized) throw other("has an attribute brokerkey does not know, so it names nothing");
  if (uri->token && *uri->token != view.ledger.token_label) throw other("names token '" + *uri->token + "'");
  if (uri->object && *uri->object != current->label) throw other("names object '" + *uri->object + "'");
  if (uri->id && hex_encode(as_bytes(*uri->id)) != fingerprint) throw other("names another id");
  if (uri->type && *uri->type != CKO_PRIVATE_KEY && (signing || *uri->type != CKO_PUBLIC_KEY)) {
    throw other(signing ? "names no private key" : "names no key");
  }
  return found;
}

void login_with_uri_pin(AgentConnection& agent, const KeyUri& uri) {
  if (!uri.pin_value && !uri.pin_source) return;
  Secret pin = pin_from_uri(uri);
  std::optional<std::string> consumer;
  try {
    consumer = agent.text_extension(agent::kLoginExtension, pin.view());
  } catch (const AgentConnectionLost& e) {
    throw with_likely_cause(e);
  }
  if (!consumer) {
    throw invalid_input("brokerkey-agent at " + agent.socket().string() +
                        " refused the URI's PIN for this account (a wrong PIN, or another consumer's)");
  }
}

}  // namespace brokerkey
