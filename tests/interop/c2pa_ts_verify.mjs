// Validate one file's C2PA manifest with c2pa-ts (pure TypeScript, no c2pa-rs) and print the
// result as JSON: {"format", "manifest", "valid", "codes": [{"code", "success"}], "ingredients"}.
// Used by tests/provenance/test_interop.py; c2pa-ts reads JPEG, PNG, BMFF and MP3 (not WAV, not text).
// "ingredients" lists the active manifest's ingredient assertions; for each one that names a
// thumbnail, c2pa-ts resolves the reference and checks its hash itself ("hashMatch": c2pa-ts checks
// it during validation only for an ingredient an opened/placed action names), and reports the
// thumbnail's media type and the sha-256 of its bytes.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import { BMFF, JPEG, PNG } from '@trustnxt/c2pa-ts/asset';
import { SuperBox } from '@trustnxt/c2pa-ts/jumbf';
import { IngredientAssertion, ManifestStore, ThumbnailAssertion, ValidationResult } from '@trustnxt/c2pa-ts/manifest';

const buf = new Uint8Array(await fs.readFile(process.argv[2]));
const kinds = [['jpeg', JPEG], ['png', PNG], ['bmff', BMFF]];
const found = kinds.find(([, Kind]) => Kind.canRead(buf));
if (!found) {
    console.log(JSON.stringify({ format: null, valid: false, codes: [], ingredients: [] }));
    process.exit(0);
}
const asset = new found[1](buf);
const jumbf = asset.getManifestJUMBF();
let result;
let store;
if (!jumbf) {
    result = null;
} else {
    try {
        store = ManifestStore.read(SuperBox.fromBuffer(jumbf));
        result = await store.validate(asset);
    } catch (e) {
        result = ValidationResult.fromError(e);
    }
}

async function thumbnailOf(manifest, ref) {
    if (!ref) return null;
    const thumb = manifest.getAssertion(ref);
    const isThumb = thumb instanceof ThumbnailAssertion;
    return {
        url: ref.uri,
        hashMatch: await manifest.validateHashedReference(ref),
        mediaType: isThumb ? thumb.mimeType : null,
        sha256: isThumb ? createHash('sha256').update(thumb.content).digest('hex') : null,
    };
}

const ingredients = [];
const active = store?.getActiveManifest();
for (const assertion of active?.assertions?.assertions ?? []) {
    if (!(assertion instanceof IngredientAssertion)) continue;
    ingredients.push({
        label: assertion.label,
        relationship: assertion.relationship,
        thumbnail: await thumbnailOf(active, assertion.thumbnail),
    });
}
const codes = result ? result.statusEntries.map((s) => ({ code: s.code, success: s.success })) : [];
console.log(JSON.stringify({ format: found[0], manifest: jumbf !== undefined && jumbf !== null, valid: result ? result.isValid : false, codes, ingredients }));
