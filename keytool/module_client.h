// The keytool and git's drop-in programs as PKCS#11 clients of the brokerkey module: they
// load the deployed module, not the core, so they sign exactly as any other client would.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "core/backend.h"
#include "core/backend_module.h"
#include "core/files.h"
#include "core/uri.h"

namespace brokerkey {

namespace fs = std::filesystem;

// How messages name the module when the keytool is its client.
inline constexpr std::string_view kModule = "brokerkey module";

// `name` in the directory of the running program (the build tree, or the install's bin/).
fs::path beside_this_program(std::string_view name);

// The module to load: `explicit_path`, else $BROKERKEY_MODULE, else the one beside this
// program (the build tree), else the installed one.
fs::path module_path(const std::optional<std::string>& explicit_path);

// The PIN a URI names: pin-value=, or pin-source= (a file path or file: URI; the file must be
// private, as the backend PIN file). Throws invalid_input when the URI gives neither.
Secret pin_from_uri(const KeyUri& uri);

// The public key a URI names (type=private names the private key's public half), read without
// logging in; throws when the URI names no key or more than one.
struct UriPublicKey {
  PublicKey key;
  std::string label;  // CKA_LABEL
};
UriPublicKey uri_public_key(const fs::path& module, const KeyUri& uri);

// One private key named by a URI, logged in, ready to sign.
class UriSigner {
 public:
  // Throws with a clear message when the URI names no key, or more than one.
  UriSigner(const fs::path& module, const KeyUri& uri, const Secret& pin);
  UriSigner(const UriSigner&) = delete;
  UriSigner& operator=(const UriSigner&) = delete;
  ~UriSigner();

  const PublicKey& public_key() const { return public_key_; }
  const std::string& label() const { return label_; }
  Signature sign(ByteView data) const;
  // CKA_VALUE of the certificate object beside the key (same CKA_ID), if the slot shows one.
  std::optional<Bytes> certificate() const;

 private:
  BackendModule module_;
  CK_SESSION_HANDLE session_ = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE private_key_ = CK_INVALID_HANDLE;
  PublicKey public_key_;
  std::string label_;
  Bytes id_;
};

}  // namespace brokerkey
