// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title CidText: CIDv1 (sha2-256) bytes and their multibase base32 text ("b…"), as IPFS prints them
/// @notice Shared by CreativeAssets (asset and token-metadata CIDs) and LicenseMarket (the licence
/// metadata directory), so every ipfs:// URI the contracts return is the CID `ipfs add` prints.
library CidText {
    /// @dev multicodec raw (a single block: a file of at most 256 KiB, e.g. a metadata JSON)
    bytes1 internal constant CODEC_RAW = 0x55;
    /// @dev multicodec dag-pb (a UnixFS node: a chunked file's root, or a directory)
    bytes1 internal constant CODEC_DAG_PB = 0x70;
    bytes private constant BASE32_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";

    /// @notice CIDv1 prefix: version 1, `codec`, sha2-256 (0x12), 32-byte digest (0x20).
    function prefix(bytes1 codec) internal pure returns (bytes4) {
        return bytes4(abi.encodePacked(bytes1(0x01), codec, bytes1(0x12), bytes1(0x20)));
    }

    /// @notice "b" + base32(CIDv1 of `codec` and sha2-256 `digest`).
    function text(bytes1 codec, bytes32 digest) internal pure returns (string memory) {
        return string(abi.encodePacked("b", base32(abi.encodePacked(prefix(codec), digest))));
    }

    /// @dev RFC 4648 base32, lower-case alphabet, no padding.
    function base32(bytes memory data) internal pure returns (bytes memory out) {
        uint256 bits = data.length * 8;
        out = new bytes((bits + 4) / 5);
        bytes memory alphabet = BASE32_ALPHABET;
        uint256 buffer = 0;
        uint256 nbits = 0;
        uint256 j = 0;
        for (uint256 i = 0; i < data.length; ++i) {
            buffer = (buffer << 8) | uint8(data[i]);
            nbits += 8;
            while (nbits >= 5) {
                nbits -= 5;
                out[j++] = alphabet[(buffer >> nbits) & 31];
            }
            // forge-lint: disable-next-line(incorrect-shift)
            buffer &= (1 << nbits) - 1; // keep the nbits < 5 unconsumed bits
        }
        if (nbits > 0) out[j] = alphabet[(buffer << (5 - nbits)) & 31];
    }
}
