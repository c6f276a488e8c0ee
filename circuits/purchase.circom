pragma circom 2.1.6;

// "I hold a delivered purchase of batch B": the prover knows a secret whose commitment
// Poseidon(Poseidon(secret), batch) is a leaf of the tree of delivered purchases under `root`,
// without saying which leaf. The shopper's browser hands the checkout only the holder
// Poseidon(secret); the platform makes the leaf from the batch its order is for, so the batch a
// proof names is the order's, not the shopper's word. The nullifier Poseidon(secret, purpose, batch) lets each purchase speak once
// per purpose (1 review, 2 claim, 3 dispute) and batch; `message` binds the proof to what it
// says (a review's rating and text hash, a claim's payout address), so it cannot be replayed for
// other content.
include "circomlib/circuits/poseidon.circom";

template PurchaseProof(depth) {
    signal input root;
    signal input batch;
    signal input purpose;
    signal input message;
    signal output nullifier;

    signal input secret;
    signal input pathElements[depth];
    signal input pathIndices[depth];

    component holder = Poseidon(1);
    holder.inputs[0] <== secret;
    component leaf = Poseidon(2);
    leaf.inputs[0] <== holder.out;
    leaf.inputs[1] <== batch;

    signal node[depth + 1];
    signal left[depth];
    component level[depth];
    node[0] <== leaf.out;
    for (var i = 0; i < depth; i++) {
        pathIndices[i] * (1 - pathIndices[i]) === 0;
        // pathIndices[i] = 1: this node is the right child
        left[i] <== node[i] + pathIndices[i] * (pathElements[i] - node[i]);
        level[i] = Poseidon(2);
        level[i].inputs[0] <== left[i];
        level[i].inputs[1] <== node[i] + pathElements[i] - left[i];
        node[i + 1] <== level[i].out;
    }
    root === node[depth];

    component nul = Poseidon(3);
    nul.inputs[0] <== secret;
    nul.inputs[1] <== purpose;
    nul.inputs[2] <== batch;
    nullifier <== nul.out;

    // a public input no constraint uses could be changed freely: square it into the proof
    signal messageSquare;
    messageSquare <== message * message;
}

// depth 20: room for 1,048,576 delivered purchases
// public signals, in snarkjs's order: nullifier (the output), root, batch, purpose, message
component main {public [root, batch, purpose, message]} = PurchaseProof(20);
