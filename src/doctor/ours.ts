// Which of an organization's webhook registrations are ours: the ones at our public URL, or,
// when `server.publicUrl` is not set, the ones whose path is our tenant's webhook route (as
// catch-up finds its endpoint).

export function findOurs<T>(items: T[], url: (item: T) => string, expected: string | undefined, system: 'spry' | 'spruce', tenantId: string): T[] {
  if (expected) return items.filter((item) => url(item) === expected);
  const route = `/webhooks/${system}/${tenantId}`;
  return items.filter((item) => {
    try {
      return new URL(url(item)).pathname.replace(/\/+$/, '') === route;
    } catch {
      return false;
    }
  });
}
