// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @dev Reference RFC 4648 base32 (lower case, no padding), one bit at a time: the independent
/// check of the contracts' CID text (CidText), shared by the token and licence URI tests.
library RefBase32 {
    function encode(bytes memory data) internal pure returns (bytes memory out) {
        bytes memory alphabet = "abcdefghijklmnopqrstuvwxyz234567";
        uint256 nbits = data.length * 8;
        out = new bytes((nbits + 4) / 5);
        for (uint256 c = 0; c < out.length; ++c) {
            uint256 v = 0;
            for (uint256 b = 0; b < 5; ++b) {
                uint256 bit = c * 5 + b;
                uint256 x = 0;
                if (bit < nbits) x = (uint8(data[bit / 8]) >> (7 - (bit % 8))) & 1;
                v = (v << 1) | x;
            }
            out[c] = alphabet[v];
        }
    }
}
