// Validate one file's C2PA manifest with c2pa-ts (pure TypeScript, no c2pa-rs) and print the
// result as JSON: {"format", "valid", "codes": [{"code", "success"}]}. Used by
// tests/provenance/test_interop.py; c2pa-ts reads JPEG, PNG, BMFF and MP3 (not WAV, not text).
import * as fs from 'node:fs/promises';
import { BMFF, JPEG, PNG } from '@trustnxt/c2pa-ts/asset';
import { SuperBox } from '@trustnxt/c2pa-ts/jumbf';
import { ManifestStore, ValidationResult } from '@trustnxt/c2pa-ts/manifest';

const buf = new Uint8Array(await fs.readFile(process.argv[2]));
const kinds = [['jpeg', JPEG], ['png', PNG], ['bmff', BMFF]];
const found = kinds.find(([, Kind]) => Kind.canRead(buf));
if (!found) {
    console.log(JSON.stringify({ format: null, valid: false, codes: [] }));
    process.exit(0);
}
const asset = new found[1](buf);
const jumbf = asset.getManifestJUMBF();
let result;
if (!jumbf) {
    result = null;
} else {
    try {
        result = await ManifestStore.read(SuperBox.fromBuffer(jumbf)).validate(asset);
    } catch (e) {
        result = ValidationResult.fromError(e);
    }
}
const codes = result ? result.statusEntries.map((s) => ({ code: s.code, success: s.success })) : [];
console.log(JSON.stringify({ format: found[0], manifest: jumbf !== undefined && jumbf !== null, valid: result ? result.isValid : false, codes }));
