# amtemu: an emulated Intel AMT fleet in a container.
#   docker build -t amtemu .
#   docker run --rm amtemu serve --count 50 --state setup --domain corp.example.test --rmcp-port 0
# Everything the emulator serves lives on 127.0.0.0/8 INSIDE the container (docs/deploy.md):
# other containers reach it only by sharing its network namespace (compose: network_mode).
FROM node:20-bookworm-slim

WORKDIR /app
ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false

# Dependencies first (cached while only sources change). --ignore-scripts: `prepare` builds,
# and the sources are not here yet. Dev dependencies are kept on purpose: the reference
# provisioning server imports @device-management-toolkit/wsman-messages at run time.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --include=dev

COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bin ./bin
COPY data ./data
COPY schemas ./schemas
COPY scenarios ./scenarios
RUN npm run build \
 && ln -s /app/bin/amtemu.js /usr/local/bin/amtemu \
 && chmod +x /app/bin/amtemu.js \
 && mkdir -p /var/lib/amtemu /pki && chown node:node /var/lib/amtemu /pki

# Unprivileged: RMCP on UDP 623 needs root, so run with --rmcp-port 0 or a port above 1024.
USER node
VOLUME ["/var/lib/amtemu", "/pki"]
# AMT ports, inside the container's namespace (see docs/deploy.md on why publishing them
# does not reach the devices).
EXPOSE 16992 16993 16994 16995 9971
ENTRYPOINT ["amtemu"]
CMD ["serve", "--help"]
