import { problemTypes, problemTypeUri, type ProblemCode } from './problem-types.js';

/** A problem type as `GET /problems/{code}` answers it in JSON. */
export function problemTypeBody(code: ProblemCode) {
  const { status, title, meaning, action } = problemTypes[code];
  return { code, type: problemTypeUri(code), status, title, meaning, action };
}

/**
 * The HTML that problem `type` links open: one code, or all of them (each in a section whose id is
 * its code, so `/problems#EVENT_CLOSED` lands on it too).
 */
export function problemsPage(codes: readonly ProblemCode[], heading: string): string {
  const sections = codes.map((code) => {
    const { status, title, meaning, action } = problemTypes[code];
    return `<section id="${code}">
<h2><a href="${problemTypeUri(code)}"><code>${code}</code></a> — ${inline(title)}</h2>
<p>HTTP status <strong>${status}</strong>.</p>
<p><strong>Meaning:</strong> ${inline(meaning)}</p>
<p><strong>What to do:</strong> ${inline(action)}</p>
</section>`;
  });
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(heading)} · Scoreline score-maker API</title>
<style>body{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem;line-height:1.5}
section{border-top:1px solid #ddd;padding-top:.5rem}code{background:#f3f3f3;padding:0 .2em}</style>
</head>
<body>
<h1>${escapeHtml(heading)}</h1>
<p>Errors of the Scoreline score-maker API are RFC 9457 <code>application/problem+json</code> documents.
Branch on <code>code</code>; <code>type</code> links here. <a href="/problems">All problem types</a> ·
<a href="/docs">API reference</a> · <code>Accept: application/json</code> gives this as JSON.</p>
${sections.join('\n')}
</body>
</html>
`;
}

/** Plain text with `code` spans, as the catalogue writes them. */
function inline(text: string): string {
  return escapeHtml(text).replace(/`([^`]+)`/g, '<code>$1</code>');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
