// The broker's configuration: one JSON file (docs/ARCHITECTURE.md lists every field).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/key_label.h"

namespace brokerkey {

namespace fs = std::filesystem;

struct BackendConfig {
  fs::path module;          // the backend's PKCS#11 module
  std::string token_label;  // the backend token holding the broker's keys
  fs::path pin_file;        // the backend user PIN, mode 0600
  std::map<std::string, std::string> env;  // set while the backend initialises (SOFTHSM2_CONF)
};

struct RotationPolicy {
  int period_days = 365;
  int overlap_days = 30;
};

// Consumer PINs are generated with about 120 bits of entropy, so the hash resists guessing by
// that entropy, not by the KDF's cost; the cost is kept low because every client process pays
// it at C_Login (git pays it per commit). Stored per consumer, so it can be raised.
struct ScryptParams {
  unsigned log2_n = 10;
  unsigned r = 8;
  unsigned p = 1;
};

struct ConsumerEntry {
  std::string name;
  std::string salt;  // base64
  std::string hash;  // base64 scrypt(PIN, salt)
  ScryptParams scrypt;
};

// Where brokerkey-agent listens (docs/AGENT.md). Its --socket option and systemd's socket
// activation take precedence over `socket`.
struct AgentConfig {
  fs::path socket;           // the unix socket the agent creates; empty: none configured
  std::string socket_group;  // group that may connect (mode 0660); empty: the agent's own group
};

// How the module, the drop-ins and the keytool's read commands reach the key
// (docs/ARCHITECTURE.md): embedded loads the backend in the calling process (the backend PIN,
// the token store, the ledger and the signing log must all be readable); client asks
// brokerkey-agent at agent.socket and reads no other file. A configuration states its mode;
// one written before modes existed (no "mode" field) is embedded.
enum class ConfigMode { embedded, client };
std::string_view to_string(ConfigMode mode);

struct Config {
  fs::path file;  // where it was read from; not stored
  ConfigMode mode = ConfigMode::embedded;
  std::string token_label = "brokerkey";
  BackendConfig backend;
  fs::path ledger;
  fs::path signing_log;  // empty: signatures are not logged
  KeyName naming;
  RotationPolicy rotation;
  std::vector<ConsumerEntry> consumers;
  AgentConfig agent;

  const ConsumerEntry* find_consumer(std::string_view name) const;
};

// $BROKERKEY_CONF, else ~/.config/brokerkey/brokerkey.conf, else /etc/brokerkey/brokerkey.conf.
// Throws config_bad naming every place looked when none exists.
fs::path locate_config();

// The same search, for a caller to whom "no configuration anywhere" is not an error (the
// module, which p11-kit loads into every process): nullopt when $BROKERKEY_CONF is unset or
// empty and neither default file exists. A $BROKERKEY_CONF that is set is returned as is.
std::optional<fs::path> find_config();

// Throws config_bad with the file and the field at fault. Relative paths inside the file are
// taken relative to the file's directory. An embedded configuration needs backend and ledger;
// a client one needs only agent.socket (any backend, ledger or consumers it names are read
// but never used by a client).
Config load_config(const fs::path& file);
Config parse_config(std::string_view json, const fs::path& file);
std::string serialize_config(const Config& config);
// A client configuration for `socket` (absolute) and `token_label`: what
// `brokerkey client-config` prints. Nothing in it is secret.
std::string client_config_text(const fs::path& socket, std::string_view token_label);
// Writes atomically with mode 0600.
void save_config(const Config& config);

}  // namespace brokerkey
