// brokerkey init: a new broker in a directory of its own.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <iostream>

#include "commands.h"
#include "core/consumer_pin.h"
#include "core/error.h"
#include "core/files.h"
#include "core/pkcs11_backend.h"
#include "core/unique_fd.h"
#include "softhsm_template.h"

namespace brokerkey {

namespace {

constexpr auto kPrivateFile = fs::perms::owner_read | fs::perms::owner_write;

// Removes what init created if it does not finish, so a failed init leaves nothing behind.
class Rollback {
 public:
  explicit Rollback(fs::path dir, bool dir_created) : dir_(std::move(dir)), dir_created_(dir_created) {}
  Rollback(const Rollback&) = delete;
  Rollback& operator=(const Rollback&) = delete;
  ~Rollback() {
    if (committed_) return;
    std::error_code ignored;
    if (dir_created_) {
      fs::remove_all(dir_, ignored);
    } else {
      for (const auto& entry : fs::directory_iterator(dir_, ignored)) fs::remove_all(entry.path(), ignored);
    }
  }
  void commit() { committed_ = true; }

 private:
  fs::path dir_;
  bool dir_created_;
  bool committed_ = false;
};

// The embedded default: a SoftHSMv2 token stored inside the broker's directory.
BackendConfig embedded_softhsm(const fs::path& dir, const std::string& token_label) {
  fs::path module = BROKERKEY_SOFTHSM_MODULE;
  if (!fs::exists(module)) {
    throw config_bad("SoftHSMv2 is not installed (" + module.string() +
                     " missing): apt-get install softhsm2, or name your HSM with --backend-module");
  }
  make_private_directory(dir / "tokens");
  std::string conf(kSoftHsmTemplate);
  std::string placeholder = "@TOKEN_DIR@";
  conf.replace(conf.find(placeholder), placeholder.size(), (dir / "tokens").string());
  write_new_file(dir / "softhsm2.conf", conf, kPrivateFile);
  Secret so_pin = generate_pin();
  Secret user_pin = generate_pin();
  BackendConfig backend{module, token_label + "-store", dir / "backend.pin",
                        {{"SOFTHSM2_CONF", (dir / "softhsm2.conf").string()}}};
  // The SO PIN is used once, to create the token, and not kept: stored, it would let anyone
  // who can read it re-initialise the token, that is destroy the broker's keys.
  write_new_file(backend.pin_file, user_pin.view() + "\n", kPrivateFile);
  provision_backend_token(backend, so_pin.view(), user_pin.view());
  return backend;
}

// An account whose configuration is a client one reaches its broker through the agent; a
// broker of its own made here would be a second key nobody meant. A missing or unreadable
// configuration is no reason to refuse: init makes a new one.
void refuse_for_a_client() {
  std::optional<Config> existing;
  try {
    fs::path located = locate_config();
    std::error_code ec;
    if (fs::exists(located, ec)) existing = load_config(located);
  } catch (const std::exception&) {
    return;
  }
  if (existing) require_embedded(*existing);
}

int run_init(const cli::Args& args) {
  refuse_for_a_client();
  auto dir_arg = args.value("dir");
  if (!dir_arg) throw cli::UsageError("--dir DIR is required");
  fs::path dir = fs::absolute(*dir_arg).lexically_normal();
  bool external = args.value("backend-module").has_value();
  if (external != args.value("backend-token").has_value() ||
      external != args.value("backend-pin-file").has_value()) {
    throw cli::UsageError("--backend-module, --backend-token and --backend-pin-file go together");
  }

  Config config;
  config.file = dir / "brokerkey.conf";
  config.token_label = args.value_or("token-label", "brokerkey");
  check_token_label(config.token_label);
  config.naming = {args.value_or("service", ""), args.value_or("purpose", ""), args.value_or("env", "")};
  if (!config.naming.service.empty() && !config.naming.purpose.empty() && !config.naming.env.empty()) {
    make_key_label(config.naming);  // refuse a bad default now, not at the first mint
  }
  config.ledger = dir / "ledger.jsonl";
  config.signing_log = dir / "signing-log.jsonl";

  // The broker's directory and every directory above it must pass the trust rule that every
  // later load applies (open_trusted): refuse now, not at the first C_Initialize.
  bool dir_created = !fs::exists(fs::symlink_status(dir));
  if (dir_created) {
    if (dir.has_parent_path()) fs::create_directories(dir.parent_path());
    check_trusted_directory(dir.parent_path());
    make_private_directory(dir);
  } else if (!fs::is_directory(dir)) {
    throw already_exists(dir.string() + " exists and is not a directory");
  } else if (fs::exists(config.file) || fs::exists(config.ledger)) {
    throw already_exists(dir.string() + " already holds a broker; refusing to overwrite it");
  } else if (!fs::is_empty(dir)) {
    throw already_exists(dir.string() + " is not empty; give a new or empty directory");
  }
  {
    // An existing directory must be this user's (or root's) and pass the rule; a chmod would
    // not take back a directory another user owns.
    UniqueFd checked = check_trusted_directory(dir);
    struct stat info {};
    if (::fstat(checked.get(), &info) != 0 || info.st_uid != ::geteuid()) {
      throw file_error("directory " + dir.string() + " is not owned by this user (uid " +
                       std::to_string(::geteuid()) + "); give a directory of your own");
    }
  }
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace);
  Rollback rollback(dir, dir_created);

  if (external) {
    config.backend = {*args.value("backend-module"), *args.value("backend-token"),
                      fs::absolute(*args.value("backend-pin-file")), {}};
    Pkcs11Backend probe(config.backend);  // proves module, token and PIN before anything commits
  } else {
    config.backend = embedded_softhsm(dir, config.token_label);
  }
  write_new_file(config.file, serialize_config(config), kPrivateFile);
  Ledger(config.ledger).append("init", {{"token_label", config.token_label},
                                        {"backend_module", config.backend.module.string()},
                                        {"backend_token", config.backend.token_label}});
  rollback.commit();

  std::cout << "Initialised broker in " << dir.string() << " (token '" << config.token_label
            << "', backend " << config.backend.module.filename().string() << ").\n"
            << "Use it with:\n  export BROKERKEY_CONF=" << config.file.string() << "\n";
  return 0;
}

}  // namespace

const Command kInitCommand{
    "init",
    "create a new broker: backend token, configuration, PIN file, ledger",
    "--dir DIR [--token-label L] [--service S --purpose P --env E]\n"
    "  or:  brokerkey init --dir DIR --backend-module PATH --backend-token LABEL --backend-pin-file FILE\n\n"
    "Creates a broker in DIR (new or empty; mode 0700): by default a SoftHSMv2 token stored\n"
    "in DIR/tokens with a random user PIN in DIR/backend.pin (mode 0600; the SO PIN is random,\n"
    "used once and not kept), the configuration DIR/brokerkey.conf and the ledger\n"
    "DIR/ledger.jsonl with its init record. Prints the 'export BROKERKEY_CONF=...' line.\n\n"
    "  --token-label L     label of the broker's PKCS#11 token (default brokerkey, at most 24)\n"
    "  --service S, --purpose P, --env E\n"
    "                      naming defaults for key labels <S>-<P>-ed25519-<E>\n"
    "  --backend-module, --backend-token, --backend-pin-file\n"
    "                      use an existing token of an HSM's PKCS#11 module instead of SoftHSM\n\n"
    "Refuses a DIR that already holds a broker or anything else. If any step fails, what\n"
    "init created is removed again.\n",
    {{"dir", "token-label", "service", "purpose", "env", "backend-module", "backend-token",
      "backend-pin-file"},
     {},
     0,
     0},
    run_init,
};

}  // namespace brokerkey
