// Independent reference for mintloom's CIDs: the IPFS JS importer (ipfs-unixfs-importer, the
// implementation behind Helia/js-ipfs), with the settings of `ipfs add --cid-version 1 --raw-leaves`:
// fixed-size 262144-byte chunks, raw leaves, balanced layout with 174 links per node.
// Usage: node unixfs_reference.mjs [--chunk BYTES] [--links N] FILE...
//   -> one JSON line per file: {"root": cid, "blocks": {cid: hex}} (every block the importer wrote)
import { readFileSync } from 'node:fs'
import { importer } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'

const args = process.argv.slice(2)
let chunkSize = 262144
let maxChildrenPerNode = 174
while (args[0]?.startsWith('--')) {
  const [flag, value] = args.splice(0, 2)
  if (flag === '--chunk') chunkSize = Number(value)
  else if (flag === '--links') maxChildrenPerNode = Number(value)
  else throw new Error(`unknown option ${flag}`)
}
for (const path of args) {
  const blocks = {}
  const blockstore = { put: async (cid, bytes) => { blocks[cid.toString()] = Buffer.from(bytes).toString('hex'); return cid } }
  const options = {
    cidVersion: 1,
    rawLeaves: true,
    chunker: fixedSize({ chunkSize }),
    layout: balanced({ maxChildrenPerNode })
  }
  let root
  for await (const entry of importer([{ content: readFileSync(path) }], blockstore, options)) root = entry.cid.toString()
  process.stdout.write(JSON.stringify({ root, blocks }) + '\n')
}
