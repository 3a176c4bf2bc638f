import { describe, expect, it } from 'vitest';
import { checkEndpointUrl } from './webhook-endpoints.ts';

describe('checkEndpointUrl', () => {
  it.each(['https://hooks.example.com/spruce', 'http://127.0.0.1:8080/x', 'http://127.1.2.3/x', 'http://localhost:3000/x', 'http://[::1]:3000/x'])(
    'accepts %s',
    (url) => expect(checkEndpointUrl(url)).toBe(url),
  );

  it.each(['http://hooks.example.com/spruce', 'http://10.0.0.1/x', 'ftp://example.com', 'not a url', 'http://localhost.example.com/'])(
    'refuses %s',
    (url) => expect(() => checkEndpointUrl(url)).toThrow(/url/),
  );
});
