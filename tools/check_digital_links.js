// GS1's digital-link.js on the URIs given: reads a JSON list of URIs on stdin, prints a JSON list of
// {uri, valid, identifier, keyQualifiers, attributes, compressed, partly} as the toolkit parses each
// (and compresses it, GS1 Digital Link compression with optimisations: whole, and with the primary
// key left uncompressed). Used by the tests.
const { DigitalLink, Utils } = require('digital-link.js');
const Toolkit = require('digital-link.js/lib/GS1DigitalLinkCompressionPrototype/GS1DigitalLinkToolkit');

const toolkit = new Toolkit();

let input = '';
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const out = JSON.parse(input).map((uri) => {
    try {
      const dl = DigitalLink(uri);
      return {
        uri,
        valid: dl.isValid(),
        identifier: dl.getIdentifier(),
        keyQualifiers: dl.getKeyQualifiers(),
        attributes: dl.getAttributes(),
        compressed: Utils.compressWebUri(uri),
        partly: toolkit.gs1ElementStringsToCompressedGS1DigitalLink(
          toolkit.gs1digitalLinkToGS1elementStrings(uri, true), false, 'https://id.gs1.org', true, true,
        ),
      };
    } catch (e) {
      return { uri, valid: false, error: String(e) };
    }
  });
  process.stdout.write(JSON.stringify(out));
});
