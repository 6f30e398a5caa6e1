// Independent dag-pb decoder (@ipld/dag-pb, the JS IPFS stack's codec): the links of a block.
// Usage: node dagpb_links.mjs HEX -> [{"name": ..., "cid": ..., "tsize": ...}, ...]
import { decode } from '@ipld/dag-pb'

const node = decode(Buffer.from(process.argv[2], 'hex'))
const links = node.Links.map((l) => ({ name: l.Name, cid: l.Hash.toString(), tsize: l.Tsize }))
process.stdout.write(JSON.stringify(links) + '\n')
