import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';

export { html };

const listeners = new Set<() => void>();

/** Pushes a console URL (history entry) and re-renders; back/forward come through popstate. */
export function go(url: string, replace = false): void {
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  for (const l of listeners) l();
}

/** The current location; re-renders its component on every navigation. */
export function useLocation(): { path: string; params: URLSearchParams; hash: string } {
  const [, tick] = useState(0);
  useEffect(() => {
    const l = () => tick((n) => n + 1);
    listeners.add(l);
    window.addEventListener('popstate', l);
    return () => {
      listeners.delete(l);
      window.removeEventListener('popstate', l);
    };
  }, []);
  return { path: location.pathname, params: new URLSearchParams(location.search), hash: location.hash };
}

/** An in-app link: a real href (open in a new tab works), navigation without a reload. */
export function Link(props: { href: string; class?: string; children?: unknown; title?: string; 'aria-label'?: string }) {
  const onClick = (e: MouseEvent) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    go(props.href);
  };
  return html`<a ...${props} onClick=${onClick}>${props.children}</a>`;
}

/** Loads `load()` whenever `key` changes; the newest answer wins. */
export function useLoad<T>(key: string, load: () => Promise<T>): { data?: T; error?: Error; loading: boolean } {
  const [state, setState] = useState<{ key: string; data?: T; error?: Error; loading: boolean }>({ key: '', loading: true });
  useEffect(() => {
    let live = true;
    setState({ key, loading: true }); // never show the previous key's data as this one's
    load().then(
      (data) => live && setState({ key, data, loading: false }),
      (error: Error) => live && setState({ key, error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [key]);
  return state.key === key ? state : { loading: true };
}
