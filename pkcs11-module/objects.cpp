#include "objects.h"

#include "core/x509.h"

#include <cstring>

namespace brokerkey {

std::string_view role_name(SlotRole role) {
  return role == SlotRole::current ? "current" : "overlap";
}

Object::Object(CK_OBJECT_HANDLE handle, SlotRole slot, const KeyRecord& key,
               CK_OBJECT_CLASS object_class, std::map<CK_ATTRIBUTE_TYPE, AttributeValue> attributes)
    : handle_(handle), slot_(slot), key_(key), class_(object_class), attributes_(std::move(attributes)) {}

CK_RV Object::get_attribute_values(std::span<CK_ATTRIBUTE> template_) const {
  // PKCS#11 2.40 section 5.7, C_GetAttributeValue. Every attribute is processed; the return
  // code reports the first problem in a fixed priority: sensitive, then invalid type, then
  // buffer too small, as SoftHSM does.
  bool sensitive = false, type_invalid = false, too_small = false;
  for (CK_ATTRIBUTE& attribute : template_) {
    auto found = attributes_.find(attribute.type);
    if (found == attributes_.end()) {
      // 2. "the object does not possess the attribute": length -1, CKR_ATTRIBUTE_TYPE_INVALID.
      attribute.ulValueLen = CK_UNAVAILABLE_INFORMATION;
      type_invalid = true;
    } else if (found->second.sensitive) {
      // 1. "cannot be revealed because the object is sensitive": length -1.
      attribute.ulValueLen = CK_UNAVAILABLE_INFORMATION;
      sensitive = true;
    } else if (attribute.pValue == nullptr) {
      // 3. pValue NULL_PTR: only the length is returned.
      attribute.ulValueLen = found->second.value.size();
    } else if (attribute.ulValueLen >= found->second.value.size()) {
      // 4. large enough: the value is copied and its exact length returned.
      std::memcpy(attribute.pValue, found->second.value.data(), found->second.value.size());
      attribute.ulValueLen = found->second.value.size();
    } else {
      // 5. too small: length -1, CKR_BUFFER_TOO_SMALL.
      attribute.ulValueLen = CK_UNAVAILABLE_INFORMATION;
      too_small = true;
    }
  }
  if (sensitive) return CKR_ATTRIBUTE_SENSITIVE;
  if (type_invalid) return CKR_ATTRIBUTE_TYPE_INVALID;
  if (too_small) return CKR_BUFFER_TOO_SMALL;
  return CKR_OK;
}

std::size_t Object::size() const {
  std::size_t total = 0;
  for (const auto& [type, attribute] : attributes_) {
    if (!attribute.sensitive) total += attribute.value.size();
  }
  return total;
}

bool Object::matches(std::span<const CK_ATTRIBUTE> template_) const {
  for (const CK_ATTRIBUTE& wanted : template_) {
    auto found = attributes_.find(wanted.type);
    if (found == attributes_.end() || found->second.sensitive) return false;
    const Bytes& value = found->second.value;
    if (wanted.ulValueLen != value.size()) return false;
    if (!value.empty() && !wanted.pValue) return false;
    if (!value.empty() && std::memcmp(wanted.pValue, value.data(), value.size()) != 0) return false;
  }
  return true;
}

CK_OBJECT_HANDLE HandleRegistry::handle_for(const Fingerprint& fingerprint,
                                            CK_OBJECT_CLASS object_class) {
  std::lock_guard lock(mutex_);
  auto [it, inserted] = handles_.try_emplace({fingerprint, object_class}, next_);
  if (inserted) ++next_;
  return it->second;
}

namespace {

template <typename T>
AttributeValue scalar(T value) {
  Bytes bytes(sizeof value);
  std::memcpy(bytes.data(), &value, sizeof value);
  return {std::move(bytes), false};
}
AttributeValue boolean(bool value) { return scalar<CK_BBOOL>(value ? CK_TRUE : CK_FALSE); }
AttributeValue bytes(ByteView value) { return {Bytes(value.begin(), value.end()), false}; }
AttributeValue text(std::string_view value) { return bytes(as_bytes(value)); }

AttributeValue date(TimePoint t) {
  std::string digits = format_rfc3339(t);  // YYYY-MM-DD...
  CK_DATE value{};
  std::memcpy(value.year, digits.data(), 4);
  std::memcpy(value.month, digits.data() + 5, 2);
  std::memcpy(value.day, digits.data() + 8, 2);
  return scalar(value);
}

using Attributes = std::map<CK_ATTRIBUTE_TYPE, AttributeValue>;

// Shared by every object of a key.
Attributes common(const KeyRecord& key, SlotRole slot, CK_OBJECT_CLASS object_class) {
  return {
      {CKA_CLASS, scalar<CK_OBJECT_CLASS>(object_class)},
      {CKA_TOKEN, boolean(true)},
      {CKA_PRIVATE, boolean(object_class == CKO_PRIVATE_KEY)},
      {CKA_MODIFIABLE, boolean(false)},
      {CKA_COPYABLE, boolean(false)},
      {CKA_DESTROYABLE, boolean(false)},
      {CKA_LABEL, text(key.label)},
      {CKA_ID, bytes(key.fingerprint.bytes)},
      {CKA_BROKERKEY_FINGERPRINT, text(key.fingerprint.hex())},
      {CKA_BROKERKEY_ROLE, text(role_name(slot))},
  };
}

Attributes key_common(const KeyRecord& key, SlotRole slot, CK_OBJECT_CLASS object_class) {
  Attributes a = common(key, slot, object_class);
  CK_MECHANISM_TYPE allowed = CKM_EDDSA;
  a.insert({
      {CKA_KEY_TYPE, scalar<CK_KEY_TYPE>(CKK_EC_EDWARDS)},
      {CKA_START_DATE, date(key.created)},
      // Its validity: from the record that committed it until its rotation is due, or, once
      // rotated out, until its overlap window closes.
      {CKA_END_DATE, date(key.overlap_until.value_or(key.rotation_due))},
      {CKA_DERIVE, boolean(false)},
      {CKA_LOCAL, boolean(true)},
      {CKA_KEY_GEN_MECHANISM, scalar<CK_MECHANISM_TYPE>(CKM_EC_EDWARDS_KEY_PAIR_GEN)},
      {CKA_ALLOWED_MECHANISMS, scalar(allowed)},
      {CKA_SUBJECT, bytes({})},
      {CKA_EC_PARAMS, bytes(ec_params_edwards25519())},
      {CKA_PUBLIC_KEY_INFO, bytes(spki_der(key.public_key))},
  });
  return a;
}

std::shared_ptr<const Object> build_certificate_object(const KeyRecord& key, SlotRole slot,
                                                       HandleRegistry& handles) {
  Bytes der = base64_decode(*key.certificate_der_base64).value_or(Bytes{});
  CertificateFields fields = parse_certificate(der);  // the ledger's fold checked it is base64
  Attributes cert = common(key, slot, CKO_CERTIFICATE);
  Sha256 digest = sha256(der);
  cert.insert({
      {CKA_CERTIFICATE_TYPE, scalar<CK_CERTIFICATE_TYPE>(CKC_X_509)},
      {CKA_TRUSTED, boolean(false)},
      {CKA_CERTIFICATE_CATEGORY, scalar<CK_ULONG>(1)},  // token user
      {CKA_CHECK_VALUE, bytes(ByteView(digest.data(), 3))},
      {CKA_START_DATE, date(fields.not_before)},
      {CKA_END_DATE, date(fields.not_after)},
      {CKA_SUBJECT, bytes(fields.subject)},
      {CKA_ISSUER, bytes(fields.issuer)},
      {CKA_SERIAL_NUMBER, bytes(fields.serial_number)},
      {CKA_VALUE, bytes(der)},
      {CKA_PUBLIC_KEY_INFO, bytes(spki_der(key.public_key))},
  });
  return std::make_shared<const Object>(handles.handle_for(key.fingerprint, CKO_CERTIFICATE), slot,
                                        key, CKO_CERTIFICATE, std::move(cert));
}

}  // namespace

std::vector<std::shared_ptr<const Object>> build_key_objects(const KeyRecord& key, SlotRole slot,
                                                             HandleRegistry& handles) {
  std::vector<std::shared_ptr<const Object>> objects;

  Attributes pub = key_common(key, slot, CKO_PUBLIC_KEY);
  pub.insert({
      {CKA_EC_POINT, bytes(ec_point_der(key.public_key))},
      {CKA_VERIFY, boolean(true)},
      {CKA_VERIFY_RECOVER, boolean(false)},
      {CKA_ENCRYPT, boolean(false)},
      {CKA_WRAP, boolean(false)},
      {CKA_TRUSTED, boolean(false)},
  });
  objects.push_back(std::make_shared<const Object>(
      handles.handle_for(key.fingerprint, CKO_PUBLIC_KEY), slot, key, CKO_PUBLIC_KEY, std::move(pub)));

  if (key.certificate_der_base64) {
    objects.push_back(build_certificate_object(key, slot, handles));
  }

  if (slot == SlotRole::current) {
    Attributes priv = key_common(key, slot, CKO_PRIVATE_KEY);
    priv.insert({
        {CKA_SIGN, boolean(true)},
        {CKA_SIGN_RECOVER, boolean(false)},
        {CKA_DECRYPT, boolean(false)},
        {CKA_UNWRAP, boolean(false)},
        {CKA_SENSITIVE, boolean(true)},
        {CKA_ALWAYS_SENSITIVE, boolean(true)},
        {CKA_EXTRACTABLE, boolean(false)},
        {CKA_NEVER_EXTRACTABLE, boolean(true)},
        {CKA_WRAP_WITH_TRUSTED, boolean(false)},
        {CKA_ALWAYS_AUTHENTICATE, boolean(false)},
        {CKA_VALUE, AttributeValue{{}, true}},
    });
    objects.push_back(std::make_shared<const Object>(
        handles.handle_for(key.fingerprint, CKO_PRIVATE_KEY), slot, key, CKO_PRIVATE_KEY,
        std::move(priv)));
  }
  return objects;
}

}  // namespace brokerkey
