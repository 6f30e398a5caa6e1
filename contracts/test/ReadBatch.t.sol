// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MintTest} from "./utils/MintTest.sol";
import {ReadBatch} from "../src/ReadBatch.sol";

contract Answers {
    uint256 public writes;

    function twice(uint256 x) external pure returns (uint256) {
        return 2 * x;
    }

    function fails() external pure {
        revert("no");
    }

    function write() external returns (uint256) {
        return ++writes;
    }
}

contract ReadBatchTest is MintTest {
    Answers internal answers = new Answers();

    function _read(address[] memory targets, bytes[] memory calls)
        internal
        returns (bool[] memory ok, bytes[] memory results)
    {
        // what an eth_call of the creation code returns: the constructor's answer, as code
        address at = address(new ReadBatch(targets, calls));
        return abi.decode(at.code, (bool[], bytes[]));
    }

    function test_answers_each_call_in_order_and_marks_failures() public {
        address[] memory targets = new address[](3);
        bytes[] memory calls = new bytes[](3);
        (targets[0], targets[1], targets[2]) = (address(answers), address(answers), address(answers));
        calls[0] = abi.encodeCall(Answers.twice, (21));
        calls[1] = abi.encodeCall(Answers.fails, ());
        calls[2] = abi.encodeCall(Answers.twice, (5));
        (bool[] memory ok, bytes[] memory results) = _read(targets, calls);
        vm.assertTrue(ok[0] && !ok[1] && ok[2], "ok flags");
        vm.assertEq(abi.decode(results[0], (uint256)), 42, "first");
        vm.assertEq(abi.decode(results[2], (uint256)), 10, "third");
    }

    function test_a_writing_call_fails_and_writes_nothing() public {
        address[] memory targets = new address[](1);
        bytes[] memory calls = new bytes[](1);
        targets[0] = address(answers);
        calls[0] = abi.encodeCall(Answers.write, ());
        (bool[] memory ok,) = _read(targets, calls);
        vm.assertFalse(ok[0], "write refused"); // staticcall: a state change reverts
        vm.assertEq(answers.writes(), 0, "nothing written");
    }

    function test_mismatched_lengths_are_refused_by_name() public {
        vm.expectRevert(abi.encodeWithSelector(ReadBatch.LengthMismatch.selector, 2, 1));
        new ReadBatch(new address[](2), new bytes[](1));
    }

    function testFuzz_a_call_to_an_address_without_code_answers_empty(address nobody) public {
        vm.assume(nobody.code.length == 0 && uint160(nobody) > 0xff);
        address[] memory targets = new address[](1);
        bytes[] memory calls = new bytes[](1);
        targets[0] = nobody;
        calls[0] = abi.encodeCall(Answers.twice, (1));
        (bool[] memory ok, bytes[] memory results) = _read(targets, calls);
        vm.assertTrue(ok[0] && results[0].length == 0, "empty answer"); // the reader must check the answer's length
    }
}
