# The coldchain validator image: nothing but the statically linked binary
# (musl), no shell, no libraries, no base image to pull.
#
#   bash docker/build        # builds target/docker/coldchain, then this image
#   docker-compose up -d     # the four bureaus (docker-compose.yml)
#
# A bureau with its own registry builds and pushes the same way.
FROM scratch
COPY target/docker/coldchain /coldchain
EXPOSE 8080 30000
VOLUME /data
ENTRYPOINT ["/coldchain"]
CMD ["node", "--config", "/etc/coldchain/node.toml", "--log-json"]
