// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title NaiveEventStore
/// @notice Benchmark baseline only: the naive design that stores every supply-chain event as a
/// struct in contract storage. Traceledger does not deploy it; `make bench` compares it with
/// {Provenance}'s hash chain and Merkle anchors.
contract NaiveEventStore {
    struct StoredEvent {
        bytes32 batchId;
        bytes32 eventHash;
        address recorder;
        uint64 timestamp;
        string bizStep;
    }

    StoredEvent[] public events;

    event Stored(uint256 indexed index, bytes32 indexed batchId, bytes32 eventHash);

    /// @notice Store one event in full.
    function store(bytes32 batchId, bytes32 eventHash, string calldata bizStep) external {
        events.push(StoredEvent(batchId, eventHash, msg.sender, uint64(block.timestamp), bizStep));
        emit Stored(events.length - 1, batchId, eventHash);
    }
}
