"""Migrations that have shipped are never edited: a database that applied one keeps it as it was
(the history records versions, not contents), so a change there would reach new databases only.
A fix is a new migration (``create or replace ...``).

A new migration is listed here when it is added; from then on its text is fixed.
"""

from __future__ import annotations

import hashlib

from mltrack_sdk.migrate import list_migrations

#: Version (the file name's digits) -> SHA-256 of the file, for every migration.
SHIPPED = {
    "20261126090001": "4dccdd39b74666d03265817b352367dbb711342e6aa01b4af17a70464378a49a",
    "20261126090002": "fdcb816c6e7e7f74a54a88f80b2a3314d719b23e52eb30860611145683ad2537",
    "20261126090003": "acfc8cfa3976be4eb94d0b60eb0545a5137eedb439c9d67f49527baf2a9eb42a",
    "20261126090004": "ad5aef69d6c8ec9bf59d44afba18423a9b3fd24562c9a0da78cb2ff6fee64347",
    "20261126090005": "18105aa69793a5c5ba2e4296dfb049214eacb58f0ebc9f5ba16d3b467a851dc8",
    "20261126090006": "6facae37bd0bb9ce0575911028c3e32e37c0ae2af2368bfba3c7e07190ec7bb8",
    "20261126090007": "b796a0b638a3dbb327550836b4e186ced29f23751ce751fef76f3b8c98014429",
    "20261126090008": "4d646ae20557df25dab1d00cbedc28bd76e22ccba048cdba1fbfc275a6fd3b33",
    "20261126090009": "d9e2b22ffdfcd992fa1c077da62be963d980384c8d034397aacb60e5fa0b2a6a",
    "20261126090010": "0b6b74069d22d6dbcff1386bc4b63167d0465610015ef97d630f865dcd147693",
    "20261126090011": "2b99aac4d83236383fa9629f9f01f4eba5a3f4527021d15ab4aba2b80026b4a5",
    "20261202090001": "84265a4035114137dd3c13115721f2959066bf668bf0f4dd33506a621d6ad1a2",
    "20261202090002": "8dc5abc26f56077d41961ff14d958e3f67de0394ab08718181c36a36c9b2a74f",
    "20261202090003": "d701b9264bb88de8f7b79d882741cfcac5c14cb15f7a632a0f983d88718225ea",
    "20261202090004": "c5fa9abb3f36362e007cea58ebd209cdb4c76d2827ec94ac75bf0c2bc7a0c863",
    "20261202090005": "ef2662c72595d75f2e469aaf90b42a9ff85f50da60481109496201d3009fbdef",
    "20261202090006": "696bf0406350e38df0fdbc4c1c6752a9bddd3ae4493525a70b751d12f1c76f72",
    "20261202090007": "b4c7f29958ecfa1876aba79f13ec6894e43844c3364a4532a2d1158979cd30f4",
    "20261202100001": "fee417bead7da8145160357535ee30c634d04344d8b0069da9c4cbc6ca5971d5",
    "20261202120001": "c053b0adae0919795de21bac67f7b2d27d3c419a577e65e7defb449b2f67f7df",
    "20261202130001": "f4d6012d5ff3d928f8eabebee40170bc4d30288e92dd4945cbd3f8e376286553",
    "20261202160001": "6e58b2abca72ed953ef61fe9e7d5fcbd262b7522f408d00ed6090ad86e449f3f",
    "20261203090001": "a42f1a6d8f20ed7a768a5d558da29646f63e4c4d55e7590c82e132bd7a192632",
    "20261203120001": "20033e7b7d55935dae6e5e06e952e620e5c495cc9e69dc7789929e96db85dde0",
    "20261203130001": "9576da2262790ee25f39edc97b76571d2305fb964fba5548dce9165a88585115",
    "20261203140001": "c91fae1916f1eb9915d5fbd855b94fe70bb014d80a9b33c8d4f70526f198fb60",
    "20261203150001": "b9d20576c7354c669e4de663b90da2621dd69bc0065b2fa3a13c2490bc6e9344",
    "20261203160001": "85f2b098e1e3044d0c74446878ab0ce3c70ed7b524c1a85273e3f6b9166a1658",
    "20261203170001": "7a8b6488299d2e45b642584530d7dbdc4ec0e9d17acee72a32922b3b91b8dba2",
    "20261203180001": "9f7220402fd70b5a5f83e7b710e5341e5b061afb2650422e4ed93357cf738dfd",
}


def test_no_shipped_migration_was_edited() -> None:
    for migration in list_migrations():
        name, version = migration.path.name, migration.version
        digest = hashlib.sha256(migration.path.read_bytes()).hexdigest()
        assert version in SHIPPED, f"{name} is new: add it to SHIPPED ({version!r}: {digest!r})"
        assert digest == SHIPPED[version], (
            f"{name} changed after it shipped: put the change in a new migration"
        )


def test_every_listed_migration_exists() -> None:
    assert {m.version for m in list_migrations()} >= SHIPPED.keys()
