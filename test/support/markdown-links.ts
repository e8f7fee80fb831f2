/**
 * The link check of the Markdown documentation: every relative link (and every link into this
 * repository's main branch on GitHub) must lead to a file that exists and, with a `#fragment`
 * into a Markdown file, to a heading that exists there, as GitHub anchors headings. Links to
 * other sites are not followed (the suite runs without network).
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'

export const REPOSITORY = 'https://github.com/codegrant/codegrant'

/** Markdown without fenced code and HTML comments (neither has links or headings). */
function withoutBlocks(markdown: string): string {
  return markdown.replace(/^\s*```[\s\S]*?^\s*```/gm, '').replace(/<!--[\s\S]*?-->/g, '')
}

/** Markdown without what is not rendered as links: fenced code, inline code, HTML comments. */
function prose(markdown: string): string {
  return withoutBlocks(markdown).replace(/`[^`\n]*`/g, '')
}

/** GitHub's anchor for a heading's text: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-')
}

/** Every anchor of a Markdown file: each heading's slug, repeated ones numbered as GitHub does. */
export function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>()
  const found = new Set<string>()
  for (const [, text] of withoutBlocks(markdown).replace(/`([^`\n]*)`/g, '$1').matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    const base = slug(text!)
    const count = seen.get(base) ?? 0
    seen.set(base, count + 1)
    found.add(count === 0 ? base : `${base}-${count}`)
  }
  for (const [, id] of markdown.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) found.add(id!)
  return found
}

/** The links of a Markdown file's prose: `[text](target)`, `![alt](target)`, `href`/`src` attributes. */
export function links(markdown: string): string[] {
  return [...prose(markdown).matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)|(?:href|src)="([^"]+)"/g)].map((match) => match[1] ?? match[2]!)
}

/**
 * What is wrong with the links of `file` (a path relative to `root`, read from disk unless
 * `markdown` is given): one line per dead link, naming it and why.
 */
export function deadLinks(root: string, file: string, markdown = readFileSync(join(root, file), 'utf8')): string[] {
  const problems: string[] = []
  for (const link of links(markdown)) {
    let target: string
    let fragment: string | undefined
    const inRepo = new RegExp(`^${REPOSITORY}/(?:blob|tree)/main/([^#?]*)(?:#(.*))?$`).exec(link)
    if (inRepo) {
      target = join(root, decodeURIComponent(inRepo[1]!))
      fragment = inRepo[2]
    } else if (/^[a-z][a-z0-9+.-]*:/i.test(link) || link.startsWith('//')) {
      continue // another site, or mailto:
    } else if (link.startsWith('#')) {
      if (!anchors(markdown).has(decodeURIComponent(link.slice(1)))) problems.push(`${file}: ${link} → no heading ${link} in ${file}`)
      continue
    } else {
      const [path, hash] = link.split('#', 2) as [string, string | undefined]
      target = resolve(root, dirname(file), decodeURIComponent(path))
      fragment = hash
    }
    const shown = relative(root, target) || '.'
    if (!existsSync(target)) {
      problems.push(`${file}: ${link} → no ${shown}`)
      continue
    }
    if (fragment === undefined || fragment === '' || fragment === 'readme') continue
    if (statSync(target).isDirectory() || !target.endsWith('.md')) continue
    if (!anchors(readFileSync(target, 'utf8')).has(decodeURIComponent(fragment))) problems.push(`${file}: ${link} → no heading #${fragment} in ${shown}`)
  }
  return problems
}
