/*
 * brokerkey vendor-defined PKCS#11 constants. Usable from C and C++.
 * Every attribute here is documented in docs/ATTRIBUTES.md.
 */
#ifndef BROKERKEY_PKCS11_VENDOR_H
#define BROKERKEY_PKCS11_VENDOR_H

#ifndef CKA_VENDOR_DEFINED
#define CKA_VENDOR_DEFINED (1UL << 31)
#endif

/* All brokerkey constants live at CKA_VENDOR_DEFINED | 0x424B00xx ("BK"). */
#define BROKERKEY_VENDOR_OFFSET 0x424B0000UL

/* 64 lowercase hex characters (ASCII, no NUL): SHA-256 of the raw 32-byte public key. */
#define CKA_BROKERKEY_FINGERPRINT (CKA_VENDOR_DEFINED | 0x424B0001UL)
/* "current" or "overlap" (ASCII, no NUL). */
#define CKA_BROKERKEY_ROLE (CKA_VENDOR_DEFINED | 0x424B0002UL)

#endif /* BROKERKEY_PKCS11_VENDOR_H */
