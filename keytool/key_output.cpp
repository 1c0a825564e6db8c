#include "key_output.h"

#include "core/uri.h"

namespace brokerkey {

void print_key(std::ostream& out, const KeyRecord& key, std::string_view token_label,
               std::string_view role) {
  out << "  label:        " << key.label << "\n"
      << "  role:         " << role << "\n"
      << "  fingerprint:  " << key.fingerprint.hex() << "   (SHA-256 of the raw public key)\n"
      << "  ssh:          " << ssh_fingerprint(key.public_key) << "   (OpenSSH fingerprint)\n"
      << "  created:      " << format_rfc3339(key.created) << "\n"
      << "  rotation due: " << format_rfc3339(key.rotation_due) << "\n";
  if (key.overlap_until) out << "  overlap until: " << format_rfc3339(*key.overlap_until) << "\n";
  if (role == "current") {
    out << "  uri:          " << key_uri(token_label, key.label, CKO_PRIVATE_KEY) << "\n";
  }
}

boost::json::object key_json(const KeyRecord& key, std::string_view token_label, TimePoint at) {
  KeyStatus status = key.status_at(at);
  std::string token(token_label);
  if (status == KeyStatus::overlap) token += "-overlap";
  boost::json::object out{
      {"label", key.label},
      {"status", to_string(status)},
      {"fingerprint", key.fingerprint.hex()},
      {"ssh_fingerprint", ssh_fingerprint(key.public_key)},
      {"public_key", ssh_public_key_line(key.public_key, "")},
      {"created", format_rfc3339(key.created)},
      {"rotation_due", format_rfc3339(key.rotation_due)},
  };
  if (key.overlap_until) out["overlap_until"] = format_rfc3339(*key.overlap_until);
  if (status == KeyStatus::current) out["uri"] = key_uri(token, key.label, CKO_PRIVATE_KEY);
  if (status == KeyStatus::overlap) out["uri"] = key_uri(token, key.label, CKO_PUBLIC_KEY);
  return out;
}

}  // namespace brokerkey
