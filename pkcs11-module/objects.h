// The module's own objects: immutable, built from what the ledger says and what the backend's
// public key proves, with a per-class whitelist of attributes. Nothing here is ever written
// back, and a caller's template is never forwarded to the backend.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "core/bytes.h"
#include "core/ledger.h"
#include "core/pkcs11.h"

namespace brokerkey {

enum class SlotRole : CK_SLOT_ID { current = 0, overlap = 1 };
std::string_view role_name(SlotRole role);

struct AttributeValue {
  Bytes value;
  bool sensitive = false;  // exists, but its value is never revealed
};

class Object {
 public:
  Object(CK_OBJECT_HANDLE handle, SlotRole slot, const KeyRecord& key, CK_OBJECT_CLASS object_class,
         std::map<CK_ATTRIBUTE_TYPE, AttributeValue> attributes);

  CK_OBJECT_HANDLE handle() const { return handle_; }
  SlotRole slot() const { return slot_; }
  CK_OBJECT_CLASS object_class() const { return class_; }
  bool is_private() const { return class_ == CKO_PRIVATE_KEY; }
  const KeyRecord& key() const { return key_; }

  // C_GetAttributeValue's rules for this object, over the caller's template.
  CK_RV get_attribute_values(std::span<CK_ATTRIBUTE> template_) const;
  // C_FindObjects matching: every attribute present, not sensitive, and equal.
  bool matches(std::span<const CK_ATTRIBUTE> template_) const;
  // C_GetObjectSize: the spec leaves its meaning to the token; here, the bytes of the
  // attribute values a client can read (a sensitive value is not counted).
  std::size_t size() const;

 private:
  CK_OBJECT_HANDLE handle_;
  SlotRole slot_;
  KeyRecord key_;
  CK_OBJECT_CLASS class_;
  std::map<CK_ATTRIBUTE_TYPE, AttributeValue> attributes_;
};

// Stable handles: the same key and class keep one handle for the module's lifetime, so an
// object found before a rotation still answers, for what it now is, after it.
class HandleRegistry {
 public:
  CK_OBJECT_HANDLE handle_for(const Fingerprint& fingerprint, CK_OBJECT_CLASS object_class);

 private:
  std::mutex mutex_;
  std::map<std::pair<Fingerprint, CK_OBJECT_CLASS>, CK_OBJECT_HANDLE> handles_;
  CK_OBJECT_HANDLE next_ = 1;
};

// The objects one key shows in a slot: the public key, and in the current slot the private key.
std::vector<std::shared_ptr<const Object>> build_key_objects(const KeyRecord& key, SlotRole slot,
                                                             HandleRegistry& handles);

}  // namespace brokerkey
