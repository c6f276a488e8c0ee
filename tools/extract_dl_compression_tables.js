// Writes ledger/trace/dl_compression.json: the tables GS1's Digital Link compression uses, read
// from GS1's own toolkit (npm digital-link.js, lib/GS1DigitalLinkCompressionPrototype):
//   tableP   - AI length (2, 3 or 4 digits) by its first two digits
//   tableF   - the format of each AI's value: components of fixed (L) or most (M) length,
//              numeric (N) or alphanumeric (X)
//   tableOpt - two-character optimisation codes standing for a sequence of AIs
// Run: node tools/extract_dl_compression_tables.js   (after npm ci)
const fs = require('fs');
const path = require('path');
const Toolkit = require('digital-link.js/lib/GS1DigitalLinkCompressionPrototype/GS1DigitalLinkToolkit');

const t = new Toolkit();
const version = require('digital-link.js/package.json').version;
const out = {
  source: `npm digital-link.js ${version}, lib/GS1DigitalLinkCompressionPrototype/GS1DigitalLinkToolkit.js`,
  tableP: t.tableP,
  tableF: t.tableF,
  tableOpt: t.tableOpt,
};
const target = path.join(__dirname, '..', 'ledger', 'trace', 'dl_compression.json');
fs.writeFileSync(target, JSON.stringify(out, null, 0) + '\n');
console.log(`wrote ${target}`);
