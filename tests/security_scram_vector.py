#!/usr/bin/env python3
"""Computes the SCRAM-SHA-512 exchange vector used in src/net/scram.rs tests.

RFC 7677 gives an example exchange for SCRAM-SHA-256 only. This script
computes the SHA-512 exchange for the same user, password, nonces and salt
with Python's hashlib/hmac, independently of the Rust implementation
(RFC 5802, section 3). Run: python3 tests/security_scram_vector.py
"""
import base64
import hashlib
import hmac

user, password = "user", "pencil"
client_nonce = "rOprNGfwEbeRWgbNEkqO"
nonce = client_nonce + "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
salt_b64 = "W22ZaJ0SNY7soEsUEjb6gQ=="
iterations = 4096

client_first_bare = f"n={user},r={client_nonce}"
server_first = f"r={nonce},s={salt_b64},i={iterations}"
client_final_bare = f"c=biws,r={nonce}"
auth_message = ",".join([client_first_bare, server_first, client_final_bare]).encode()

salted = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(salt_b64), iterations)
client_key = hmac.new(salted, b"Client Key", hashlib.sha512).digest()
stored_key = hashlib.sha512(client_key).digest()
client_signature = hmac.new(stored_key, auth_message, hashlib.sha512).digest()
proof = bytes(a ^ b for a, b in zip(client_key, client_signature))
server_key = hmac.new(salted, b"Server Key", hashlib.sha512).digest()
server_signature = hmac.new(server_key, auth_message, hashlib.sha512).digest()

print("server-first:", server_first)
print("client-final:", f"{client_final_bare},p={base64.b64encode(proof).decode()}")
print("server-final:", f"v={base64.b64encode(server_signature).decode()}")
