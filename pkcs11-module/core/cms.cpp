#include "core/cms.h"

#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include <algorithm>
#include <vector>

#include "core/error.h"
#include "core/openssl_ptr.h"
#include "core/x509.h"

namespace brokerkey {

namespace {

using CmsPtr = std::unique_ptr<CMS_ContentInfo, OpensslDeleter<CMS_ContentInfo_free>>;
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, OpensslDeleter<ASN1_TIME_free>>;

struct X509StackDeleter {
  void operator()(STACK_OF(X509) * certs) const noexcept { sk_X509_pop_free(certs, X509_free); }
};
using X509StackPtr = std::unique_ptr<STACK_OF(X509), X509StackDeleter>;

// What the signature covers: the signed attributes as a DER SET OF, whose elements are
// ordered by their encodings (X.690 11.6), which is also how OpenSSL writes them into the
// SignerInfo. An attribute set that was not DER on the wire fails verification.
Bytes signed_attributes_der(CMS_SignerInfo* signer) {
  std::vector<Bytes> encoded;
  for (int i = 0; i < CMS_signed_get_attr_count(signer); ++i) {
    encoded.push_back(der_encode<i2d_X509_ATTRIBUTE>(CMS_signed_get_attr(signer, i)));
  }
  std::sort(encoded.begin(), encoded.end());
  Bytes body;
  for (const auto& attribute : encoded) body.insert(body.end(), attribute.begin(), attribute.end());
  return der_tlv(0x31, body);
}

// The single value of the single signed attribute `nid`, of one of the given ASN.1 types.
const ASN1_TYPE* only_value(CMS_SignerInfo* signer, int nid, std::initializer_list<int> types) {
  const std::string name = OBJ_nid2ln(nid);
  int at = CMS_signed_get_attr_by_NID(signer, nid, -1);
  if (at < 0) throw integrity_failed("the signed attributes lack " + name);
  if (CMS_signed_get_attr_by_NID(signer, nid, at) >= 0) throw integrity_failed("the signed attributes repeat " + name);
  X509_ATTRIBUTE* attribute = CMS_signed_get_attr(signer, at);
  const ASN1_TYPE* value = X509_ATTRIBUTE_count(attribute) == 1 ? X509_ATTRIBUTE_get0_type(attribute, 0) : nullptr;
  if (!value || std::find(types.begin(), types.end(), value->type) == types.end()) {
    throw integrity_failed("the " + name + " attribute has the wrong form");
  }
  return value;
}

std::string one_line(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) throw crypto_failed("cannot print a name");
  return memory_bio_text(bio.get());
}

void expect_algorithm(const X509_ALGOR* algorithm, int nid, bool null_parameters_allowed, const char* what) {
  const ASN1_OBJECT* oid = nullptr;
  int parameter_type = 0;
  X509_ALGOR_get0(&oid, &parameter_type, nullptr, algorithm);
  bool parameters_ok = parameter_type == V_ASN1_UNDEF || (null_parameters_allowed && parameter_type == V_ASN1_NULL);
  if (OBJ_obj2nid(oid) != nid || !parameters_ok) {
    throw integrity_failed(std::string("the ") + what + " algorithm is not " + OBJ_nid2sn(nid) +
                           (null_parameters_allowed ? "" : " with absent parameters"));
  }
}

}  // namespace

Bytes make_detached_cms(ByteView certificate_der, ByteView content, TimePoint signing_time,
                        const SignedAttributesSigner& sign) {
  X509Ptr cert = parse_x509(certificate_der);
  PublicKey key = certificate_key(cert.get());
  // CMS_PARTIAL: OpenSSL lays out SignedData and the SignerInfo but signs nothing (it has no
  // private key, only the certificate's public key); the signature comes from the module.
  CmsPtr cms(CMS_sign(nullptr, nullptr, nullptr, nullptr, CMS_PARTIAL | CMS_DETACHED | CMS_BINARY));
  if (!cms) throw crypto_failed("cannot start a CMS SignedData");
  CMS_SignerInfo* signer = CMS_add1_signer(cms.get(), cert.get(), X509_get0_pubkey(cert.get()), EVP_sha512(),
                                           CMS_PARTIAL | CMS_NOSMIMECAP);
  if (!signer) throw crypto_failed("cannot add the signer to the CMS");

  auto digest = sha512(content);
  Asn1TimePtr time(ASN1_TIME_set(nullptr, signing_time.time_since_epoch().count()));
  if (!time ||
      CMS_signed_add1_attr_by_NID(signer, NID_pkcs9_contentType, V_ASN1_OBJECT, OBJ_nid2obj(NID_pkcs7_data), -1) != 1 ||
      CMS_signed_add1_attr_by_NID(signer, NID_pkcs9_signingTime, time->type, time.get(), -1) != 1 ||
      CMS_signed_add1_attr_by_NID(signer, NID_pkcs9_messageDigest, V_ASN1_OCTET_STRING, digest.data(),
                                  static_cast<int>(digest.size())) != 1) {
    throw crypto_failed("cannot add the signed attributes");
  }

  Bytes signed_attributes = signed_attributes_der(signer);
  Signature signature = sign(signed_attributes);
  if (!ed25519_verify(key, signed_attributes, signature)) {
    throw integrity_failed("the signature does not verify with the certificate's key");
  }
  X509_ALGOR* signature_algorithm = nullptr;
  CMS_SignerInfo_get0_algs(signer, nullptr, nullptr, nullptr, &signature_algorithm);
  if (X509_ALGOR_set0(signature_algorithm, OBJ_nid2obj(NID_ED25519), V_ASN1_UNDEF, nullptr) != 1 ||
      ASN1_STRING_set(CMS_SignerInfo_get0_signature(signer), signature.data(), static_cast<int>(signature.size())) != 1) {
    throw crypto_failed("cannot set the signature");
  }
  return der_encode<i2d_CMS_ContentInfo>(cms.get());
}

std::string cms_armor(ByteView der) { return pem_encode(der, "SIGNED MESSAGE"); }

Bytes cms_unarmor(std::string_view text) {
  if (auto der = pem_decode(text, "SIGNED MESSAGE")) return *der;
  if (!text.empty() && static_cast<unsigned char>(text.front()) == 0x30) return Bytes(text.begin(), text.end());
  throw integrity_failed("not a CMS signature: no valid -----BEGIN SIGNED MESSAGE----- block and not DER");
}

CmsSignature parse_detached_cms(ByteView der) {
  const unsigned char* p = der.data();
  CmsPtr cms(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(der.size())));
  if (!cms || p != der.data() + der.size()) throw integrity_failed("not a DER CMS ContentInfo");
  if (OBJ_obj2nid(CMS_get0_type(cms.get())) != NID_pkcs7_signed) throw integrity_failed("the CMS is not SignedData");
  if (CMS_is_detached(cms.get()) != 1) throw integrity_failed("the signature is not detached");
  if (OBJ_obj2nid(CMS_get0_eContentType(cms.get())) != NID_pkcs7_data) {
    throw integrity_failed("the signed content type is not id-data");
  }
  STACK_OF(CMS_SignerInfo)* signers = CMS_get0_SignerInfos(cms.get());
  if (sk_CMS_SignerInfo_num(signers) != 1) {
    throw integrity_failed("the CMS has " + std::to_string(sk_CMS_SignerInfo_num(signers)) + " signers; one expected");
  }
  CMS_SignerInfo* signer = sk_CMS_SignerInfo_value(signers, 0);

  X509_ALGOR* digest_algorithm = nullptr;
  X509_ALGOR* signature_algorithm = nullptr;
  CMS_SignerInfo_get0_algs(signer, nullptr, nullptr, &digest_algorithm, &signature_algorithm);
  expect_algorithm(digest_algorithm, NID_sha512, true, "digest");
  expect_algorithm(signature_algorithm, NID_ED25519, false, "signature");

  X509StackPtr certs(CMS_get1_certs(cms.get()));
  X509* signer_cert = nullptr;
  for (int i = 0; certs && i < sk_X509_num(certs.get()); ++i) {
    if (CMS_SignerInfo_cert_cmp(signer, sk_X509_value(certs.get(), i)) == 0) signer_cert = sk_X509_value(certs.get(), i);
  }
  if (!signer_cert) throw integrity_failed("the signer's certificate is not included");

  CmsSignature out;
  out.certificate = der_encode<i2d_X509>(signer_cert);
  out.key = certificate_key(signer_cert);
  out.subject = one_line(X509_get_subject_name(signer_cert));

  const ASN1_TYPE* content_type = only_value(signer, NID_pkcs9_contentType, {V_ASN1_OBJECT});
  if (OBJ_obj2nid(content_type->value.object) != NID_pkcs7_data) {
    throw integrity_failed("the contentType attribute is not id-data");
  }
  const ASN1_TYPE* time = only_value(signer, NID_pkcs9_signingTime, {V_ASN1_UTCTIME, V_ASN1_GENERALIZEDTIME});
  out.signing_time = to_time_point(time->value.utctime);
  const ASN1_TYPE* digest = only_value(signer, NID_pkcs9_messageDigest, {V_ASN1_OCTET_STRING});
  if (ASN1_STRING_length(digest->value.octet_string) != 64) throw integrity_failed("the messageDigest is not SHA-512");
  std::copy_n(ASN1_STRING_get0_data(digest->value.octet_string), 64, out.message_digest.begin());

  const ASN1_OCTET_STRING* signature = CMS_SignerInfo_get0_signature(signer);
  if (ASN1_STRING_length(signature) != 64) throw integrity_failed("the signature is not 64 bytes");
  std::copy_n(ASN1_STRING_get0_data(signature), 64, out.signature.begin());
  out.signed_attributes = signed_attributes_der(signer);
  return out;
}

std::optional<std::string> cms_signature_fault(const CmsSignature& signature, ByteView content) {
  auto digest = sha512(content);
  if (CRYPTO_memcmp(digest.data(), signature.message_digest.data(), digest.size()) != 0) {
    return "the content's SHA-512 digest is not the signed messageDigest: the content was changed";
  }
  if (!ed25519_verify(signature.key, signature.signed_attributes, signature.signature)) {
    return "the Ed25519 signature over the signed attributes does not verify with the certificate's key";
  }
  return std::nullopt;
}

}  // namespace brokerkey
